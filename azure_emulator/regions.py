"""Azure region names: ARM's short name and the display name Azure's messages use."""
from __future__ import annotations

DISPLAY = {
    "eastus": "East US",
    "eastus2": "East US 2",
    "westus": "West US",
    "westus2": "West US 2",
    "westus3": "West US 3",
    "centralus": "Central US",
    "northcentralus": "North Central US",
    "southcentralus": "South Central US",
    "westcentralus": "West Central US",
    "canadacentral": "Canada Central",
    "canadaeast": "Canada East",
    "brazilsouth": "Brazil South",
    "northeurope": "North Europe",
    "westeurope": "West Europe",
    "uksouth": "UK South",
    "ukwest": "UK West",
    "francecentral": "France Central",
    "francesouth": "France South",
    "germanywestcentral": "Germany West Central",
    "swedencentral": "Sweden Central",
    "switzerlandnorth": "Switzerland North",
    "norwayeast": "Norway East",
    "polandcentral": "Poland Central",
    "italynorth": "Italy North",
    "spaincentral": "Spain Central",
    "eastasia": "East Asia",
    "southeastasia": "Southeast Asia",
    "japaneast": "Japan East",
    "japanwest": "Japan West",
    "koreacentral": "Korea Central",
    "australiaeast": "Australia East",
    "centralindia": "Central India",
    "southafricanorth": "South Africa North",
    "uaenorth": "UAE North",
}


def display(region: str) -> str:
    return DISPLAY.get(region.lower(), region)
