"""A job's hidden staging directory and its output directory.

A job writes everything (spill files, finished outputs, per-part counts) into a hidden staging directory that
names its driver (`owner.json`: host and pid), and moves the outputs to their names together once all are
complete (`publish`). A killed job leaves only its staging directory, which the next job for the same output
removes once that driver is gone; a live job's staging directory makes a second job refuse to start.
"""
import fnmatch
import json
import os

from apache_beam.io.filesystems import FileSystems

from wptk.beam.io import PLAIN, delete_quietly, is_local, one_line, write_atomic
from wptk.errors import WptkError
from wptk.files import host_tag, pid_alive

OWNER = "owner.json"


def make_staging(path):
    """Starts the job's hidden staging directory `path` with an owner file naming this host (host_tag) and this
    driver process, so that a later run can tell the leftovers of a killed job from a live job's files."""
    write_atomic(FileSystems.join(path, OWNER), [json.dumps({"host": host_tag(), "pid": os.getpid()}).encode()])


def staging_dirs(pattern):
    """{staging directory: True (its driver runs on this host), False (it ran on this host and is gone), or None
    (another host's, or no owner file: unknown)} for the directories matching `pattern` that hold files."""
    try:
        files = [m.path for r in FileSystems.match([FileSystems.join(pattern, "*")]) for m in r.metadata_list]
    except Exception:
        return {}
    found = {}
    for path in files:
        directory = path.rsplit("/", 1)[0]
        if directory in found:
            continue
        try:
            with FileSystems.open(FileSystems.join(directory, OWNER), compression_type=PLAIN) as f:
                owner = json.loads(f.read().decode("utf-8"))
            found[directory] = pid_alive(int(owner["pid"])) if owner["host"] == host_tag() else None
        except Exception:
            found[directory] = None
    return found


def remove_dead_staging(pattern, what):
    """Deletes the staging directories matching `pattern` whose driver (on this host) is gone: the leftovers of
    a killed job of this kind. WptkError when a live job's staging is there: two jobs must not write one output
    (`what`, to name it)."""
    for directory, alive in staging_dirs(pattern).items():
        if alive:
            raise WptkError(f"another run is writing into {what} right now ({directory}); wait for it, or "
                            "choose another output")
        if alive is False:
            remove_staging(directory)


def remove_staging(directory):
    """Deletes a staging directory's files and (locally) the directory."""
    try:
        files = [m.path for r in FileSystems.match([FileSystems.join(directory, "*")]) for m in r.metadata_list]
    except Exception:
        files = []
    delete_quietly(files)
    if is_local(directory):
        try:
            os.rmdir(directory)
        except OSError:
            pass


def publish(staged, final):
    """Renames the staged files onto their final names, all after every one is complete: a reader never sees
    part of a set (a kill before this leaves only hidden staging files, which the next run removes)."""
    try:
        FileSystems.rename(staged, final)
    except Exception as e:
        raise WptkError(f"cannot move the finished files into place ({final[0].rsplit('/', 1)[0]}): "
                        f"{one_line(e)}") from None


# ------------------------------------------------------------------------------------------------- output dir


def existing_outputs(output_dir, patterns):
    """Paths in `output_dir` matching `patterns` (file-name globs): what some run of a job wrote there."""
    globs = [FileSystems.join(output_dir, p) for p in patterns]
    try:
        results = FileSystems.match(globs)
    except Exception:
        results = []
        for glob in globs:
            try:
                results.extend(FileSystems.match([glob]))
            except Exception:
                pass
    return sorted({m.path for r in results for m in r.metadata_list})


def delete_outputs(paths, staging_prefix):
    """Deletes what it can of `paths`, and the local staging directories (named `staging_prefix`...) they
    emptied."""
    delete_quietly(paths)
    _remove_emptied_staging(paths, staging_prefix)


def _remove_emptied_staging(paths, staging_prefix):
    for directory in {p.rsplit("/", 1)[0] for p in paths if staging_prefix in p and is_local(p)}:
        try:
            os.rmdir(directory)
        except OSError:
            pass


def prepare_output_dir(output_dir, overwrite, inputs, patterns, staging_prefix):
    """Makes `output_dir` (local) and deletes an earlier run's output in it (files matching `patterns`) with
    `overwrite` (else refuses to write there); refuses to write or delete a file of `inputs` (local paths; the
    vocab too). Returns the directories it created, deepest first, for remove_created_dirs."""
    created = []
    remove_dead_staging(FileSystems.join(output_dir, staging_prefix + "*"), f"--output_dir {output_dir}")
    if is_local(output_dir):
        if os.path.exists(output_dir) and not os.path.isdir(output_dir):
            raise WptkError(f"--output_dir is not a directory: {output_dir}")
        missing = os.path.abspath(output_dir)
        while not os.path.exists(missing):
            created.append(missing)
            missing = os.path.dirname(missing)
        try:
            os.makedirs(output_dir, exist_ok=True)
        except OSError as e:
            raise WptkError(f"cannot create --output_dir {output_dir}: {e.strerror or e}") from None
    try:
        _clear_output_dir(output_dir, overwrite, inputs, patterns, staging_prefix)
    except BaseException:
        remove_created_dirs(created)
        raise
    return created


def remove_created_dirs(created):
    """Removes the directories prepare_output_dir created, where they are still empty."""
    for directory in created:
        try:
            os.rmdir(directory)
        except OSError:
            return


def _clear_output_dir(output_dir, overwrite, inputs, patterns, staging_prefix):
    for path in inputs if is_local(output_dir) else ():
        real = os.path.realpath(path)
        if os.path.dirname(real) == os.path.realpath(output_dir) and \
                any(fnmatch.fnmatch(os.path.basename(real), p.split("/")[-1]) for p in patterns):
            raise WptkError(f"input {path} is a file this pipeline writes or deletes in --output_dir "
                            f"{output_dir}: move it, or choose another directory")
    old = existing_outputs(output_dir, patterns)
    if old and not overwrite:
        names = ", ".join(p.rsplit("/", 1)[-1] for p in old[:3]) + (", ..." if len(old) > 3 else "")
        raise WptkError(f"--output_dir {output_dir} already holds the output of another run ({len(old)} file(s): "
                        f"{names}); pass --overwrite to delete it first, or choose another directory")
    if old:
        try:
            FileSystems.delete(old)
        except Exception as e:
            raise WptkError(f"--overwrite: cannot delete the earlier output in {output_dir}: {one_line(e)}") \
                from None
        _remove_emptied_staging(old, staging_prefix)
