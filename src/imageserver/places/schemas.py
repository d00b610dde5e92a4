"""Response models of the places and map routes."""

from __future__ import annotations

from pydantic import BaseModel, Field


class PlaceCount(BaseModel):
    place: str | None = Field(description="populated place; null: none within 100 km")
    count: int
    cover: int = Field(description="media id of the newest item here")


class RegionCount(BaseModel):
    region: str
    region_code: str
    count: int
    cover: int
    places: list[PlaceCount]


class CountryCount(BaseModel):
    country_code: str = Field(description="ISO 3166-1 alpha-2")
    country: str
    count: int
    cover: int
    regions: list[RegionCount]


class PlacesTree(BaseModel):
    countries: list[CountryCount]
    attribution: str


class Cluster(BaseModel):
    lat: float = Field(description="mean position of the cluster's items")
    lon: float
    count: int
    media_id: int = Field(description="a representative item (the newest) for its thumbnail")
    bounds: tuple[float, float, float, float] = Field(
        description="south, west, north, east of the items: zoom here to split the cluster"
    )


class Markers(BaseModel):
    clusters: list[Cluster]
    cell_degrees: float = Field(description="grid cell the clusters were made on")
    truncated: bool = Field(description="more cells than returned: zoom in")


class MapConfig(BaseModel):
    tile_url: str
    tile_attribution: str
    outlines_url: str
    attribution: str = Field(description="credit for place names and borders")


class PlaceHit(BaseModel):
    name: str = Field(description="populated place (GeoNames)")
    region: str
    country: str
    country_code: str = Field(description="ISO 3166-1 alpha-2")
    latitude: float
    longitude: float
    population: int


class PlaceSearch(BaseModel):
    places: list[PlaceHit] = Field(description="most populous first")
    attribution: str
