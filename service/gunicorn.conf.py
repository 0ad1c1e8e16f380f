"""gunicorn settings for Axon: `gunicorn -c service/gunicorn.conf.py 'service.app:create_app()'`.

One sync worker per core by default (service/worker.py): the cores this process may use, its cpuset
and cgroup CPU quota (e.g. a Kubernetes CPU limit). onnxruntime threads are chosen per model
(AXON_ORT_THREADS=0; service/registry.py); with AXON_ORT_THREADS=N set, workers are cores / N, since
spinning threads oversubscribed halve throughput (ARCHITECTURE.md).
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # a plain checkout too
from service import busy_workers, host  # noqa: E402 - standard library only; no worker state is created here
from service.metrics_dir import prepare_metrics_dir  # noqa: E402

# Prometheus multiprocess mode must be configured before any worker imports prometheus_client.
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="axon-metrics-")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir

# The repository API's load/unload state, shared by this server's workers (service/control.py):
# fresh at every start, so an unload lasts until the server restarts.
_control_dir = tempfile.mkdtemp(prefix="axon-control-")
os.environ["AXON_CONTROL_DIR"] = _control_dir

# A fixed mmap threshold: glibc otherwise raises it to the size of every large block freed, and then
# keeps each thread's freed image buffers in its arena. Measured: 8 concurrent 40-megapixel uploads
# left each worker at 650-830 MB resident for good; with this, peaks of 450-490 MB and back to
# 147 MB after. Set in the master before the fork, so that every worker inherits it.
host.set_malloc_mmap_threshold(4 << 20)

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8080')}"
_ort_threads = max(1, int(os.environ.get("AXON_ORT_THREADS") or 1))
workers = int(os.environ.get("AXON_WORKERS") or max(1, host.available_cores() // _ort_threads))
# sync (default): one request at a time per worker, the rest queued in the kernel, served even when
# stopping (service/worker.py); the fastest per core. gthread: AXON_THREADS requests at once per
# worker, which dynamic batching needs to merge concurrent requests (docs/operations.md, "Workers and threads").
WORKER_CLASSES = {"sync": "service.worker.DrainingSyncWorker", "gthread": "gthread"}
_worker_class = os.environ.get("AXON_WORKER_CLASS") or "sync"
if _worker_class not in WORKER_CLASSES:
    raise SystemExit(f"AXON_WORKER_CLASS must be one of {', '.join(WORKER_CLASSES)}, got {_worker_class!r}")
worker_class = WORKER_CLASSES[_worker_class]
# More than one thread would turn a sync worker into gthread (gunicorn's rule), so threads are gthread's only.
threads = int(os.environ.get("AXON_THREADS", "4")) if _worker_class == "gthread" else 1
timeout = int(os.environ.get("AXON_WORKER_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("AXON_GRACEFUL_TIMEOUT", "20"))
keepalive = 5
worker_tmp_dir = os.environ.get("AXON_WORKER_TMP_DIR", "/tmp")  # heartbeats: /tmp is writable in the pod
preload_app = False  # sessions must be created after fork: one per worker, with its own threads
# gunicornc's control socket lives under $HOME, read-only in the container; Axon is run by its
# orchestrator (signals, probes), not by gunicornc.
control_socket_disable = True
accesslog = None  # the app writes one structured JSON line per request (logger axon.access)
errorlog = "-"
loglevel = os.environ.get("AXON_LOG_LEVEL", "info").lower()


def on_starting(server):
    """Start from an empty metrics directory (stale files from a previous run would be counted),
    refusing to empty one that is not Axon's own (PROMETHEUS_MULTIPROC_DIR=/tmp, say). And refuse a
    gRPC port that something else holds: the workers bind it with SO_REUSEPORT, which would otherwise
    let another server of the same user share it silently."""
    prepare_metrics_dir(_metrics_dir)
    busy_workers.share()
    try:
        port = int(os.environ.get("AXON_GRPC_PORT") or 8081)
    except ValueError:  # the workers' settings refuse it, with its name
        port = 0
    if port and not host.port_is_free(os.environ.get("HOST", "0.0.0.0"), port):
        raise SystemExit(f"AXON_GRPC_PORT={port}: the port is in use (another server?); "
                         "choose a free one, or 0 for no gRPC")


def pre_fork(server, worker):
    """Each worker counts its requests in flight in a slot of its own (service/busy_workers.py)."""
    worker.axon_slot = busy_workers.free_slot(w.axon_slot for w in server.WORKERS.values())


def post_fork(server, worker):
    """gunicorn's own error pages (a request line or header over its limits, malformed HTTP) are
    JSON {"error": ...} like every other error, not HTML."""
    import json

    from gunicorn import util

    def write_json_error(sock, status_int, reason, mesg):
        body = json.dumps({"error": f"{reason}: {mesg}"}).encode()
        head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n")
        util.write_nonblock(sock, head.encode("latin-1") + body)

    util.write_error = write_json_error
    busy_workers.take(worker.axon_slot)
    _early_sighup(worker)


def _early_sighup(worker):
    """gunicorn resets SIGHUP in a new worker to its default, which ends the process, and only
    post_worker_init (after every model has loaded) gives it its meaning: a SIGHUP while the worker
    loads (`kill -HUP <worker pid>`, a rescan asked a moment too early) would kill it. From the moment
    gunicorn sets the worker's signals, a SIGHUP is remembered instead, and post_worker_init rescans
    once for it."""
    import signal

    worker.axon_rescan_asked = False
    init_signals = worker.init_signals

    def init_signals_remembering_sighup():
        init_signals()
        signal.signal(signal.SIGHUP, lambda signum, frame: setattr(worker, "axon_rescan_asked", True))

    worker.init_signals = init_signals_remembering_sighup


def post_worker_init(worker):
    """SIGHUP to a worker rescans the model repository now (SIGHUP to the master restarts workers).
    The worker's V2 gRPC server starts here (AXON_GRPC_PORT); SIGTERM stops it taking new calls,
    while the ones in flight finish (service/grpc/server.py)."""
    import signal
    import threading

    reloader = worker.wsgi.extensions["axon.reloader"]
    signal.signal(signal.SIGHUP, lambda signum, frame: reloader.wake())  # first: the log says loaded already
    if worker.axon_rescan_asked:  # a SIGHUP came while the models loaded (post_fork, _early_sighup)
        reloader.wake()
    worker.axon_grpc = None
    if worker.wsgi.extensions["axon.settings"].grpc_port:
        from service.grpc.server import serve

        worker.axon_grpc = serve(worker.wsgi, os.environ.get("HOST", "0.0.0.0"))
        stop_http = signal.getsignal(signal.SIGTERM)

        def stop_both(signum, frame):
            threading.Thread(target=worker.axon_grpc.stop, args=(graceful_timeout,), daemon=True).start()
            stop_http(signum, frame)

        signal.signal(signal.SIGTERM, stop_both)


def worker_exit(server, worker):
    """In the worker, once HTTP has stopped: the gRPC calls in flight finish, within the grace period."""
    grpc_server = getattr(worker, "axon_grpc", None)
    if grpc_server is not None:
        grpc_server.stop(graceful_timeout)
        grpc_server.wait_stopped(graceful_timeout)


def on_exit(server):
    import shutil

    shutil.rmtree(_control_dir, ignore_errors=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    busy_workers.clear(worker.axon_slot)
    multiprocess.mark_process_dead(worker.pid)
