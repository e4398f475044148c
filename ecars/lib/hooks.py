"""Hooks: how a lower app lets higher ones contribute to its pages without knowing them.

The app that owns a page declares a hook; apps built on it register contributions from their
AppConfig.ready(). For instance `contracts` declares what the contract page shows, and `evaluation`
and `documents` register their blocks: `contracts` never imports them (the import-linter contract of
`make quality` checks it).

    contract_page = Hook("contract_page")           # in contracts/hooks.py
    contract_page.register(self_evaluation_block)     # in evaluation/apps.py, ready()
    blocks = contract_page.collect(request, contract)  # in the contract view
"""

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Block:
    """A part of a page rendered from `template_name` with `context` (the page's own context added).

    `slot` says where on the page, in the words of the page that declares the hook.
    """

    template_name: str
    context: dict = field(default_factory=dict)
    slot: str = "body"


class Hook:
    def __init__(self, name: str):
        self.name = name
        self._functions: list[Callable] = []

    def __repr__(self):
        return f"<Hook {self.name}: {len(self._functions)} registered>"

    def register(self, function: Callable) -> Callable:
        """Add `function` (once, whatever the number of calls: ready() may run twice in tests)."""
        if function not in self._functions:
            self._functions.append(function)
        return function

    def collect(self, *args, **kwargs) -> list:
        """Each registered function's result, in the order of registration, None results left out."""
        results = (function(*args, **kwargs) for function in self._functions)
        return [result for result in results if result is not None]

    def first(self, *args, default=None, **kwargs):
        """The first registered function's result that is not None, or `default`."""
        for function in self._functions:
            result = function(*args, **kwargs)
            if result is not None:
                return result
        return default
