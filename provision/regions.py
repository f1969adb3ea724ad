"""Azure region names (ARM short names), for validating the spec without calling Azure."""
from __future__ import annotations

REGIONS = frozenset({
    "eastus", "eastus2", "westus", "westus2", "westus3", "centralus", "northcentralus", "southcentralus", "westcentralus",
    "canadacentral", "canadaeast", "brazilsouth", "mexicocentral", "northeurope", "westeurope", "uksouth", "ukwest",
    "francecentral", "francesouth", "germanywestcentral", "germanynorth", "swedencentral", "switzerlandnorth",
    "switzerlandwest", "norwayeast", "norwaywest", "polandcentral", "italynorth", "spaincentral", "eastasia",
    "southeastasia", "japaneast", "japanwest", "koreacentral", "koreasouth", "australiaeast", "australiasoutheast",
    "australiacentral", "centralindia", "southindia", "westindia", "southafricanorth", "uaenorth", "qatarcentral",
    "israelcentral", "newzealandnorth", "indonesiacentral", "malaysiawest", "chilecentral",
})


def normalize_region(name: str) -> str:
    """'East US 2', 'eastus2' and 'EastUS2' are one region to ARM."""
    return name.replace(" ", "").replace("-", "").lower()


_WORDS = ("northeast", "southeast", "north", "south", "east", "west", "central", "us", "europe", "asia", "uk", "france", "germany", "sweden",
          "switzerland", "norway", "poland", "italy", "spain", "japan", "korea", "australia", "india", "canada", "brazil",
          "mexico", "africa", "uae", "qatar", "israel", "newzealand", "indonesia", "malaysia", "chile")


def display_region(name: str) -> str:
    """'eastus2' -> 'East US 2 (eastus2)': the portal's words, and the name the spec uses."""
    rest, words = name.lower(), []
    while rest:
        word = next((w for w in sorted(_WORDS, key=len, reverse=True) if rest.startswith(w)), None)
        if word is None:
            digits = "".join(c for c in rest if c.isdigit())
            if digits and rest == digits:
                words.append(digits)
                break
            return name
        words.append({"us": "US", "uk": "UK", "uae": "UAE", "newzealand": "New Zealand"}.get(word, word.capitalize()))
        rest = rest[len(word):]
    return f"{' '.join(words)} ({name})"
