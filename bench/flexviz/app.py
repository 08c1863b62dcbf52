"""FlexViz reference app for the linked-views benchmark.

A random walk of N rows (steps uniform in [-1, 1), as Stayput's series), shown
as a line (y over the row index x) and a 100-bin histogram of y (Stayput's bin
count), cross-filtered: a box select on the histogram re-aggregates
the line over the selected rows; a zoom on the line re-reduces it. The page is
served with plotly.js and gridstack from local npm copies, so it makes no CDN
request.

    python app.py [N] [PORT]     # defaults: N=1e6 (or $N), PORT=8765 (or $PORT)

Open http://127.0.0.1:PORT/ ; it is ready when GET /sources lists "walk".
Environment:
    FLEXVIZ_CACHE=0       register the source without cache: no cubes, no live
                          brush; every brush and zoom is a POST /dashboard/update
    FLEXVIZ_NODE_MODULES  node_modules holding plotly.js-dist-min and gridstack
                          (default: ~/.cache/stayput/flexviz-npm/node_modules)
Tested with flexviz==0.1.0b5 (plotly.js-dist-min 4.1.1, gridstack 12.6.0).
"""

import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import uvicorn
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from flexviz import Dashboard
from flexviz.server import app as flexviz_app
from flexviz.server import register_source, view

N = int(float(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("N", "1e6")))
PORT = int(sys.argv[2] if len(sys.argv) > 2 else os.environ.get("PORT", "8765"))
CACHE = os.environ.get("FLEXVIZ_CACHE", "1") != "0"
NODE_MODULES = Path(
    os.environ.get(
        "FLEXVIZ_NODE_MODULES",
        Path.home() / ".cache/stayput/flexviz-npm/node_modules",
    )
)
# The page names https://cdn.jsdelivr.net/npm/<package>@<version>/<file>.
CDN = re.compile(r"https://cdn\.jsdelivr\.net/npm/(plotly\.js-dist-min|gridstack)@([^/]+)/")

t0 = time.perf_counter()
walk = pl.DataFrame(
    {
        "x": np.arange(N, dtype=np.int64),
        "y": np.cumsum(np.random.default_rng(0).uniform(-1.0, 1.0, N)),
    }
)
register_source("walk", walk, cache=CACHE)

dash = Dashboard(walk, cache=CACHE)
dash.add_figure(title="random walk").add_line(x="x", y="y")
dash.add_figure(title="histogram of y", dragmode="select").add_histogram(x="y", bins=100)
SPEC = dash.share_url(server_url="", source_name="walk", rows=2).split("spec=", 1)[1]


def local_copy(match: re.Match) -> str:
    package, version = match.groups()
    have = json.loads((NODE_MODULES / package / "package.json").read_text())["version"]
    if have != version:
        print(f"note: page asks for {package}@{version}, serving {have}", file=sys.stderr)
    return f"/npm/{package}/"


app = FastAPI()


@app.get("/", response_class=HTMLResponse)
async def index() -> HTMLResponse:
    page = (await view(SPEC)).body.decode()
    page = CDN.sub(local_copy, page)
    if "https://" in re.sub(r'href="https://[^"]*"', "", page):
        raise RuntimeError("the page still loads something from outside")
    return HTMLResponse(page)


app.mount("/npm", StaticFiles(directory=NODE_MODULES), name="npm")
app.mount("/", flexviz_app)  # /dashboard/update, /sources, /view, ...

if __name__ == "__main__":
    print(
        f"flexviz app: http://127.0.0.1:{PORT}/ N={N} cache={CACHE} "
        f"data built in {time.perf_counter() - t0:.1f}s",
        flush=True,
    )
    uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning")
