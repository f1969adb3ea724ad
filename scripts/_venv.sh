# Sourced by scripts/*: create .venv if missing and install the project (with EXTRAS) once per
# pyproject.toml version. Prints pip's output only when the install fails.
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=".venv/.installed-${EXTRAS:-base}-$(sha1sum pyproject.toml | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  spec="."; [ -n "${EXTRAS:-}" ] && spec=".[${EXTRAS}]"
  if ! .venv/bin/python -m pip install --quiet -e "$spec" >.venv/pip.log 2>&1; then
    grep -v "is ignored" .venv/pip.log >&2; echo "error: installing the project into .venv failed (log above)" >&2; exit 1
  fi
  rm -f .venv/.installed-${EXTRAS:-base}-* && touch "$stamp"
fi
