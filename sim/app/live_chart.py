"""The chart widget: Solara's ECharts widget with a template that merges each month's numbers into the chart.

Same Python side as ``solara.components.echarts.EchartsWidget`` (``on_click`` gets the
clicked item), but the option travels as JSON text (``option_json``): the browser parses
it into a plain object for ECharts instead of keeping a deeply observed copy, and
``live_chart.vue`` loads the minified ECharts build and merges each update into the
chart rather than rebuilding it.
"""

from __future__ import annotations

import json

import traitlets
from solara.components.echarts import EchartsWidget


class LiveChart(EchartsWidget):
    template_file = (__file__, "live_chart.vue")
    option_json = traitlets.Unicode("{}").tag(sync=True)

    def show(self, option: dict) -> None:
        """Send ``option`` (a plain ECharts option) to the browser."""
        self.option_json = json.dumps(option, separators=(",", ":"))

    @property
    def shown(self) -> dict:
        """The option last sent."""
        return json.loads(self.option_json)
