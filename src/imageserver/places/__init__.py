"""Places and time: offline reverse geocoding (country, first-level region, nearest populated
place, IANA time zone) from vendored Natural Earth and GeoNames data, and local wall-clock
times turned into UTC instants.

`geocode.lookup(lat, lon)` and `geocode.lookup_many(lats, lons)` are the geocoder;
`timezones.resolve_local_time(...)` fixes EXIF times; `outlines.country_outlines_geojson()`
feeds the offline map layer. DATA.md says where the data comes from and under what licence.
"""
