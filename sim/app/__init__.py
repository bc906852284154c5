"""The teaching app (Solara): ``app`` is the page, ``app_model`` the model behind it, ``app_plots`` its charts."""
