"""The chart widget: Solara's ECharts widget with a template that merges each month's numbers into the chart.

Same traits and Python side as ``solara.components.echarts.EchartsWidget`` (its
``option`` is a plain ECharts option dict, ``on_click`` gets the clicked item); only
the browser side differs (``live_chart.vue``: the minified ECharts build, and updates
merged into the chart rather than rebuilding it each month).
"""

from __future__ import annotations

from solara.components.echarts import EchartsWidget


class LiveChart(EchartsWidget):
    template_file = (__file__, "live_chart.vue")
