from torchlint.rule import NO_FIX, Rule, register


@register
class SyntaxErrorRule(Rule):
    """
    ## What it does
    Reports a file that cannot be checked: it does not parse as Python, it cannot be decoded in
    its declared encoding, or it cannot be read at all.

    ## Why is this bad?
    torchlint can say nothing about a file it cannot parse, and it never rewrites one: `--fix`
    leaves the file byte for byte as it was. The finding points at the line the parser stopped on.

    ## Example
    ```python
    def train(model:
        ...
    ```

    ## Fix safety
    No fix: correct the syntax error (or the file's encoding) by hand.
    """

    code = "TL001"
    name = "syntax-error"
    summary = "the file cannot be parsed, so it is not checked"
    fix_safety = NO_FIX
    level = "error"
    visits = False
