"""Naming rules on top of Natural Earth admin-1: which country a polygon belongs to, and its
first-level region.

Natural Earth's 1:10m admin-1 layer is first-level for most countries (US states, German
Länder, Canadian provinces...), but for a few it draws the second level: French
départements, Italian provinces, Spanish provinces, British counties and unitary
authorities. For those the polygon's own name is kept as the *subregion* and the
first-level region comes from Natural Earth's grouping fields (FR/IT/ES: `region` with
its code; GB: `geonunit`, i.e. England, Scotland, Wales, Northern Ireland), so
St Albans reads "St Albans, England, United Kingdom" and Strasbourg "Grand Est".
Used by `build_data` only: the vendored data already carries the result.
"""

from __future__ import annotations

from typing import Any

# Polygons whose ISO alpha-2 is -99/-1 in Natural Earth: the code and name we file them under
# (de jure sovereign, the ISO 3166-1 convention); None drops the polygon (no country).
COUNTRY_FIXUPS: dict[str, tuple[str, str] | None] = {
    "SOL": ("SO", "Somalia"),  # Somaliland
    "CYN": ("CY", "Cyprus"),  # Northern Cyprus
    "ESB": ("GB", "United Kingdom"),  # Dhekelia Sovereign Base Area
    "WSB": ("GB", "United Kingdom"),  # Akrotiri Sovereign Base Area
    "USG": ("CU", "Cuba"),  # Guantanamo Bay naval base
    "KAS": ("IN", "India"),  # Siachen Glacier (administered by India)
    "KAB": ("KZ", "Kazakhstan"),  # Baykonur Cosmodrome
    "IOA": ("AU", "Australia"),  # Indian Ocean Territories
    "CSI": ("AU", "Australia"),  # Coral Sea Islands
    "CLP": ("FR", "France"),  # Clipperton Island
    "PGA": None,  # Spratly Islands: disputed, no country
}

# Shorter everyday names for a few long Natural Earth `admin` names.
COUNTRY_NAMES: dict[str, str] = {
    "US": "United States",
    "BS": "Bahamas",
    "TZ": "Tanzania",
    "CD": "Democratic Republic of the Congo",
    "CG": "Republic of the Congo",
    "RS": "Serbia",
}

GB_NATIONS: dict[str, str] = {
    "England": "GB-ENG",
    "Scotland": "GB-SCT",
    "Wales": "GB-WLS",
    "Northern Ireland": "GB-NIR",
}

# Spain's autonomous communities: Natural Earth name -> (usual name, ISO 3166-2).
ES_COMMUNITIES: dict[str, tuple[str, str]] = {
    "Andalucía": ("Andalucía", "ES-AN"),
    "Aragón": ("Aragón", "ES-AR"),
    "Asturias": ("Asturias", "ES-AS"),
    "Canary Is.": ("Canarias", "ES-CN"),
    "Cantabria": ("Cantabria", "ES-CB"),
    "Castilla y León": ("Castilla y León", "ES-CL"),
    "Castilla-La Mancha": ("Castilla-La Mancha", "ES-CM"),
    "Cataluña": ("Cataluña", "ES-CT"),
    "Ceuta": ("Ceuta", "ES-CE"),
    "Extremadura": ("Extremadura", "ES-EX"),
    "Foral de Navarra": ("Navarra", "ES-NC"),
    "Galicia": ("Galicia", "ES-GA"),
    "Islas Baleares": ("Illes Balears", "ES-IB"),
    "La Rioja": ("La Rioja", "ES-RI"),
    "Madrid": ("Madrid", "ES-MD"),
    "Melilla": ("Melilla", "ES-ML"),
    "Murcia": ("Murcia", "ES-MC"),
    "País Vasco": ("País Vasco", "ES-PV"),
    "Valenciana": ("Comunitat Valenciana", "ES-VC"),
}

# Zone -> extra countries, for the border refinement (borders.py): Kosovo is no ISO 3166-1
# country, so tzdata's tables file its zone under Serbia; and Natural Earth folds some
# territories that tzdata lists apart into their parent country.
ZONE_EXTRA_COUNTRIES: dict[str, list[str]] = {"Europe/Belgrade": ["XK"]}
TERRITORY_PARENT: dict[str, str] = {
    "GF": "FR",
    "GP": "FR",
    "MQ": "FR",
    "RE": "FR",
    "YT": "FR",
    "CX": "AU",
    "CC": "AU",
    "SJ": "NO",
}

IT_NAMES: dict[str, str] = {"Apulia": "Puglia", "Sicily": "Sicilia"}


def country_of(adm0_a3: str, iso_a2: str, admin: str) -> tuple[str, str]:
    """(ISO alpha-2, display name) of a polygon's country; ("", "") for no country."""
    if adm0_a3 in COUNTRY_FIXUPS:
        fix = COUNTRY_FIXUPS[adm0_a3]
        return fix if fix is not None else ("", "")
    code = iso_a2.strip().upper()
    if len(code) != 2 or not code.isalpha():
        return "", ""
    return code, COUNTRY_NAMES.get(code, admin)


def first_level(cc: str, props: dict[str, Any], sub_name: str, sub_code: str) -> tuple[str, str]:
    """(name, code) of the first-level region a Natural Earth admin-1 polygon belongs to."""
    region = str(props.get("region") or "").strip()
    region_code = str(props.get("region_cod") or "").strip()
    if cc == "GB":
        nation = str(props.get("geonunit") or "").strip()
        if nation in GB_NATIONS:
            return nation, GB_NATIONS[nation]
    elif cc == "FR" and region and region_code.startswith("FR-"):
        return region, region_code
    elif cc == "IT" and region and region_code.startswith("IT-"):
        return IT_NAMES.get(region, region), region_code
    elif cc == "ES" and region in ES_COMMUNITIES:
        return ES_COMMUNITIES[region]
    return sub_name, sub_code
