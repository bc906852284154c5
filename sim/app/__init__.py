"""The teaching app (Solara): ``app`` is the page; ``app_settings`` what a class may set (checked),
``app_model`` the run behind the page (the CLI's model), ``app_ensemble`` many seeds at once,
``app_report`` what the page says in words, ``app_plots`` the charts as ECharts options,
``live_chart`` the chart widget, ``app_exercises`` the classroom exercises."""
