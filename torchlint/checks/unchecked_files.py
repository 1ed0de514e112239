"""Engine-level rules for files torchlint could not check: too large or deep, or an internal error."""

from torchlint.rule import NO_FIX, Rule, register


@register
class InternalErrorRule(Rule):
    """
    ## What it does
    Reports a file whose check failed inside torchlint itself: a bug in a rule, or a worker
    process that died while checking it. The other files of the run are still checked and
    reported; the run exits with status 2 after printing everything, so CI notices.

    ## Why is this bad?
    Nothing is known about the file: it may hide real findings. The message names the error.
    The result is never cached, so the next run tries again.

    ## Example
    ```python
    # any file; the message says what failed, e.g.
    # TL002 internal error, file not checked: worker process died (BrokenProcessPool)
    ```

    ## Fix safety
    No fix. Please report the message and the file (or a reduced copy) as a torchlint bug.
    """

    code = "TL002"
    name = "internal-error"
    summary = "torchlint failed on this file, so it is not checked"
    fix_safety = NO_FIX
    level = "error"
    visits = False


@register
class FileTooComplexRule(Rule):
    """
    ## What it does
    Reports a file that torchlint does not analyse because checking it would take unbounded
    time or memory: it is larger than 2 MB, or an expression in it is nested more than 1000
    levels deep (a chain like `1 + 1 + ...` of thousands of terms counts as that deep). Such
    files are generated, not written by hand. The file is still syntax-checked (TL001).

    ## Why is this bad?
    The parser torchlint builds on keeps every token and grows faster than linearly on very
    deep trees: a 5 MB one-line file took over a minute and 3 GB. One finding says the file
    was skipped instead of a run that seems to hang.

    ## Example
    ```python
    TABLE = [0, 1, 2, 3, ...]  # 5 MB of generated data on one line
    ```

    ## Fix safety
    No fix. Exclude generated files (`extend-exclude`) or ignore the code for them
    (`per-file-ignores`).
    """

    code = "TL003"
    name = "file-too-complex"
    summary = "the file is too large or too deeply nested to check in bounded time, so it is not checked"
    fix_safety = NO_FIX
    level = "note"
    visits = False
