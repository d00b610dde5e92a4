"""Video: HLS playlists and preview clips keyed by content hash, their routes and housekeeping."""
