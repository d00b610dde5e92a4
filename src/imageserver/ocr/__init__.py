"""Text in pictures: the OCR drain, its per-hash text store and the word/substring search.

- engine.py   the rapidocr-onnxruntime adapter: one engine per process, loaded lazily
- drain.py    the tick's drain: large previews of photos -> text + lines with boxes
- repo.py     all SQL: backlog, text rows, the SQLite FTS5 trigram table, search
- service.py  the rules: query terms, visible search pages, the text of an item
- stats.py    /ocr/stats numbers and the gauges
- api.py      /ocr/search, /ocr/stats, /media/{id}/text
"""
