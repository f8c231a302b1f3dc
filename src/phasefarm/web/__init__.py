"""`phasefarm serve`: the browser dashboard (needs the `web` extra: starlette, uvicorn).

`app.py` routes, `stream.py` the event stream with replay, `files.py` safe file serving,
`runs.py` starting and cancelling jobs, `server.py` running it; the pages are plain files in
`static/`. The WebSocket message format is in docs/web.md.
"""
