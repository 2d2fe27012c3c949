"""Running a Beam job: the runner (local ones on FnApiRunner, never Prism), Beam's own flags checked, the job run
to its end, its metrics, and a WptkError raised in a worker brought back as one line."""
import contextlib
import logging
import re

from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from wptk.beam import NAMESPACE
from wptk.beam.io import one_line
from wptk.beam.workers import local_runner, prepare_local_workers
from wptk.errors import UsageError, WptkError
from wptk.flags import is_local_runner, with_suggestions

def make_runner(options):
    """(runner, description). No --runner, FnApiRunner or DirectRunner: Beam's FnApiRunner, which honours
    --direct_running_mode and --direct_num_workers (Beam's DirectRunner would first try to download Prism).
    Another runner is created by name, which also registers its pipeline options (e.g. DaskRunner's)."""
    from apache_beam.runners.runner import create_runner
    name = options.view_as(StandardOptions).runner
    if is_local_runner(name):
        from apache_beam.options.pipeline_options import DirectOptions
        direct = options.view_as(DirectOptions)
        mode = direct.direct_running_mode or "in_memory"
        workers = direct.direct_num_workers
        prepare_local_workers()
        return local_runner(), f"FnApiRunner ({mode}, {workers or 1} worker{'s' if workers != 1 else ''})"
    try:
        return create_runner(name), name
    except ImportError as e:
        raise WptkError(f"--runner={name} is not available: {one_line(e)}") from None
    except Exception as e:
        raise WptkError(f"--runner={name}: {one_line(e)}") from None


def runs_here(runner):
    """Whether `runner` (of make_runner) runs the job on this machine."""
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner
    return isinstance(runner, FnApiRunner)


def check_beam_flags(parser, beam_argv):
    """UsageError for arguments that neither a pipeline's `parser` nor Beam (with the chosen runner's options)
    takes: Beam would only log and drop them. A misspelt flag would silently keep its default (it is named with
    the nearest flag of either, if one is near); a stray path, most often from a glob the shell expanded
    (--input_file dir/*.txt), would silently drop every file but the first."""
    unknown, positional = unrecognized_beam_args(beam_argv)
    if unknown:
        known = parser.option_strings() + [f"--{name}" for name in PipelineOptions([]).get_all_options()]
        raise UsageError(f"unknown flag(s): {with_suggestions(unknown, known)} (neither a flag of this pipeline "
                         "nor a Beam pipeline option)")
    if positional:
        shown = " ".join(positional[:3]) + (f" ... ({len(positional)} in all)" if len(positional) > 3 else "")
        raise UsageError(f"unrecognized arguments: {shown}: this program takes no positional arguments; if the "
                         "shell expanded an unquoted glob into these paths, quote the glob "
                         "(--input_file='dir/*.txt')")


def unrecognized_beam_args(beam_argv):
    """(flags that no Beam PipelineOptions class defines, positional arguments) of `beam_argv`: Beam would only
    log and drop both."""
    options = PipelineOptions(beam_argv)
    log = logging.getLogger("apache_beam.options.pipeline_options")
    level = log.level
    log.setLevel(logging.ERROR)
    beam_parser = []
    try:
        known = set(options.get_all_options(add_extra_args_fn=beam_parser.append))
        retained = set(options.get_all_options(retain_unknown_options=True))
    finally:
        log.setLevel(level)
    names = retained - known
    unknown = [a for a in beam_argv if a.startswith("-") and a.lstrip("-").split("=", 1)[0] in names]
    _, rest = beam_parser[0].parse_known_args(beam_argv)
    return unknown or sorted(names), [a for a in rest if not a.startswith("-")]


def run_job(runner, options, build):
    """Builds the job with build(pipeline) and runs it to its end; returns the PipelineResult. A WptkError
    raised in a worker comes back as itself; a job that ends in another state than DONE is an error."""
    import apache_beam as beam
    with worker_errors_as_user_errors():
        p = beam.Pipeline(runner=runner, options=options)
        build(p)
        result = p.run()
        try:
            state = result.wait_until_finish()
        finally:
            client = getattr(result, "client", None)    # DaskRunner leaves its dask client open
            if client is not None and hasattr(client, "close"):
                client.close()
    if state is not None and str(state).split(".")[-1] not in ("DONE", "UNKNOWN"):
        raise RuntimeError(f"the pipeline ended in state {state}")
    return result


def job_metrics(result, namespace=NAMESPACE):
    """(counters, distributions) of a finished job's Beam metrics in `namespace`, as {name: int} and
    {name: DistributionResult} (committed values where the runner has them, else attempted); None for a runner
    that reports no metrics (e.g. DaskRunner)."""
    try:
        metrics = result.metrics().query(MetricsFilter().with_namespace(namespace))
    except Exception:
        return None
    if not metrics.get("counters"):
        return None
    counters, distributions = {}, {}
    for r in metrics["counters"]:
        value = r.committed if r.committed is not None else r.attempted
        counters[r.key.metric.name] = counters.get(r.key.metric.name, 0) + int(value or 0)
    for r in metrics.get("distributions", []):
        value = r.committed if r.committed is not None else r.attempted
        if value is not None and value.count:
            distributions[r.key.metric.name] = value
    return counters, distributions


_WPTK_ERROR = re.compile(r"WptkError: (.+?)(?: \[while running [^\]]*\])*\s*$", re.MULTILINE)


@contextlib.contextmanager
def worker_errors_as_user_errors():
    """A runner's exception that carries a WptkError raised in a worker (as traceback text, or as the error
    itself with Beam's " [while running ...]" added) becomes that WptkError, in one line."""
    try:
        yield
    except Exception as e:
        message = wptk_error_message(e)
        if message:
            raise WptkError(message) from None
        raise


def wptk_error_message(exc):
    """The message of a WptkError raised inside a worker, from the runner's exception (which carries the
    worker's traceback as text), or None."""
    import traceback
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, WptkError):
            return re.sub(r"(?: \[while running [^\]]*\])+$", "", str(exc))
        text = "".join(traceback.format_exception_only(type(exc), exc))
        found = _WPTK_ERROR.findall(text)
        if found:
            return found[-1].strip()
        exc = exc.__cause__ or exc.__context__
    return None
