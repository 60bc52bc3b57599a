"""moto's S3 API as a server for the topology tests: `python tests/moto_s3_server.py PORT OUTAGE_FLAG`.

Unlike `moto_server`, it serves one request at a time: moto checks a conditional write (If-None-Match,
If-Match) and then stores the object in two steps, which threads could interleave; AWS S3 does both atomically,
and so does this server. While the file OUTAGE_FLAG exists every request is answered 503 SlowDown, as S3 does
under an outage (the fault a stopped moto cannot show: it would lose its objects, which live in memory).
"""

from __future__ import annotations

import sys
from pathlib import Path

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple
from werkzeug.wrappers import Response

OUTAGE = b"<Error><Code>SlowDown</Code><Message>test outage</Message></Error>"


def main(port: int, outage_flag: Path) -> None:
    moto = DomainDispatcherApplication(create_backend_app)

    def app(environ, start_response):
        if outage_flag.exists() and not environ.get("PATH_INFO", "").startswith("/moto-api"):
            return Response(OUTAGE, status=503, mimetype="application/xml")(environ, start_response)
        return moto(environ, start_response)

    run_simple("127.0.0.1", port, app, threaded=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]))
