"""``%om browse``: a tab per store with search, preview and actions (insert code, run, drop).

Dropping asks for confirmation first. Without a widget frontend the browser shows as a
plain listing of each store.
"""

from __future__ import annotations

from typing import Any

from omega_jupyter.magics import display
from omega_jupyter.widgets.runs import RunProgress

RUNNABLE = ("jobs", "scripts")


class StorePane:
    """One store's tab: search box, list of names, preview and action buttons."""

    def __init__(self, om: Any, store: str, shell: Any = None) -> None:
        import ipywidgets as w

        self.om = om
        self.store = store
        self.shell = shell
        self.names: list[str] = []
        self.search = w.Text(placeholder=f"search {store}", description="search")
        self.items = w.Select(options=[], rows=10, description=store)
        self.preview = w.HTML(value="")
        self.status = w.HTML(value="")
        self.insert_button = w.Button(description="insert code", icon="code")
        self.run_button = w.Button(description="run", icon="play", disabled=store not in RUNNABLE)
        self.drop_button = w.Button(description="drop", icon="trash", button_style="danger")
        self.confirm_label = w.HTML(value="")
        self.confirm_button = w.Button(description="yes, drop", button_style="danger")
        self.cancel_button = w.Button(description="cancel")
        self.confirm_box = w.HBox([self.confirm_label, self.confirm_button, self.cancel_button])
        self.confirm_box.layout.display = "none"
        self.code = ""
        buttons = w.HBox([self.insert_button, self.run_button, self.drop_button])
        self.widget = w.VBox(
            [
                self.search,
                w.HBox([self.items, self.preview]),
                buttons,
                self.confirm_box,
                self.status,
            ]
        )
        self.search.observe(lambda _change: self.filter(), names="value")
        self.items.observe(lambda _change: self.show(), names="value")
        self.insert_button.on_click(lambda _b: self.insert())
        self.run_button.on_click(lambda _b: self.run())
        self.drop_button.on_click(lambda _b: self.ask_drop())
        self.confirm_button.on_click(lambda _b: self.drop())
        self.cancel_button.on_click(lambda _b: self.hide_confirm())
        self.refresh()

    @property
    def service(self) -> Any:
        return getattr(self.om, self.store)

    @property
    def selected(self) -> str | None:
        return self.items.value

    def refresh(self) -> None:
        self.names = self.service.list()
        self.filter()

    def filter(self) -> None:
        text = self.search.value.strip().lower()
        shown = [n for n in self.names if text in n.lower()]
        keep = self.items.value if self.items.value in shown else None
        self.items.options = shown
        self.items.value = keep
        self.show()

    def show(self) -> None:
        name = self.selected
        if name is None:
            self.preview.value = ""
            return
        meta = self.service.metadata(name)
        html = display.metadata_html(meta)
        if self.store == "datasets" and meta.kind in ("pandas.dataframe", "pandas.series"):
            html += display.preview_html(self.om.datasets.getl(name), name)
        self.preview.value = html

    def insert(self) -> None:
        """Put code that loads the selected object into the next cell."""
        name = self.selected
        if name is None:
            self.status.value = "select an object first"
            return
        var = "".join(ch if ch.isalnum() else "_" for ch in name.rsplit("/", 1)[-1]) or "obj"
        if not var[0].isalpha():
            var = f"obj_{var}"
        self.code = f"{var} = om.{self.store}.get({name!r})"
        if self.shell is not None:
            self.shell.set_next_input(self.code, replace=False)
        self.status.value = f"inserted: <code>{display.escape(self.code)}</code>"

    def run(self) -> Any:
        """Run the selected notebook or script on the cluster (shown live below)."""
        name = self.selected
        if name is None or self.store not in RUNNABLE:
            self.status.value = "select a notebook or script to run"
            return None
        runner = self.om.runtime.job(name) if self.store == "jobs" else self.om.runtime.script(name)
        handle = runner.run()
        monitor = RunProgress(handle, widget=True)
        monitor.start_background()
        self.status.value = f"started run {handle.id}"
        return handle

    def ask_drop(self) -> None:
        name = self.selected
        if name is None:
            self.status.value = "select an object first"
            return
        self.confirm_label.value = (
            f"drop <b>{display.escape(name)}</b> from {self.store}, every version?"
        )
        self.confirm_box.layout.display = "flex"

    def hide_confirm(self) -> None:
        self.confirm_box.layout.display = "none"
        self.confirm_label.value = ""

    def drop(self) -> None:
        name = self.selected
        self.hide_confirm()
        if name is None:
            return
        self.service.drop(name, force=True)
        self.status.value = f"dropped {display.escape(name)}"
        self.items.value = None
        self.refresh()


NEEDS = "a plain listing: the interactive browser needs a Jupyter kernel with ipywidgets"


class Browser:
    """Tabs of :class:`StorePane`; a plain listing outside a widget frontend."""

    def __init__(
        self,
        om: Any,
        shell: Any = None,
        stores: tuple[str, ...] = ("datasets", "models", "jobs", "scripts"),
        widget: bool = True,
    ) -> None:
        self.om = om
        self.shell = shell
        self.stores = stores
        self.panes: dict[str, StorePane] = {}
        self.widget: Any = None
        if widget:
            import ipywidgets as w

            self.panes = {store: StorePane(om, store, shell) for store in stores}
            self.widget = w.Tab(children=[p.widget for p in self.panes.values()])
            for i, store in enumerate(stores):
                self.widget.set_title(i, store)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict | None:
        if self.widget is None:
            return {"text/plain": repr(self), "text/html": self._listing()._repr_html_()}
        return self.widget._repr_mimebundle_(**kwargs)

    def _listing(self) -> display.Table:
        rows = [
            {"store": store, "name": m.name, "kind": m.kind, "version": m.version}
            for store in self.stores
            for m in getattr(self.om, store).list(raw=True)
        ]
        title = "omega stores" if self.widget is not None else f"omega stores ({NEEDS})"
        return display.Table(rows, ["store", "name", "kind", "version"], title=title)

    def __repr__(self) -> str:
        return repr(self._listing())
