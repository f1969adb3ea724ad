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
