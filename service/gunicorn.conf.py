"""gunicorn settings for Axon: `gunicorn -c service/gunicorn.conf.py 'service.app:create_app()'`.

Workers x onnxruntime threads (AXON_ORT_THREADS, default 1) should stay <= cores:
measured here, oversubscription halves throughput (ARCHITECTURE.md).
"""
import os
import shutil
import tempfile

# Prometheus multiprocess mode must be configured before any worker imports prometheus_client.
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="axon-metrics-")
os.makedirs(_metrics_dir, exist_ok=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8080')}"
workers = int(os.environ.get("AXON_WORKERS", os.cpu_count() or 1))
worker_class = "gthread"
threads = int(os.environ.get("AXON_THREADS", "4"))
timeout = int(os.environ.get("AXON_WORKER_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("AXON_GRACEFUL_TIMEOUT", "20"))
keepalive = 5
worker_tmp_dir = os.environ.get("AXON_WORKER_TMP_DIR", "/tmp")  # heartbeats: /tmp is writable in the pod
preload_app = False  # sessions must be created after fork: one per worker, with its own threads
accesslog = None  # the app writes one structured JSON line per request (logger axon.access)
errorlog = "-"
loglevel = os.environ.get("AXON_LOG_LEVEL", "info").lower()


def on_starting(server):
    """Start from an empty metrics directory: stale files from a previous run would be counted."""
    for entry in os.listdir(_metrics_dir):
        path = os.path.join(_metrics_dir, entry)
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.remove(path)


def post_worker_init(worker):
    """SIGHUP to a worker rescans the model repository now (SIGHUP to the master restarts workers)."""
    import signal

    reloader = worker.wsgi.extensions["axon.reloader"]
    signal.signal(signal.SIGHUP, lambda signum, frame: reloader.wake())


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
