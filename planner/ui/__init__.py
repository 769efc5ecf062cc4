"""The planner in a browser (`planner ui`): a local web page whose forms are the plan key tables
and whose answers are the command line's records.

    forms.py     the registry: one `Form` per question (key table + answer function); a new
                 command's tab is one `register(...)` call
    answers.py   a form's query -> parsed plan -> the CLI's record, command line, downloads
    batch.py     concurrent plans of one form evaluated in one vectorised call
    summaries.py headline figures and bars chosen from a record
    charts.py    charts of one answer (a small sweep around the plan, `render.plots`)
    whatif.py    pasted scenarios (`planner run` on text held in memory)
    catalog.py   the model and device pickers, a pasted config.json, example scenarios
    server.py    the HTTP server (standard library) and its limits
    lru.py       the small cache of answers and chart images
    static/      the page: index.html, app.js, style.css (no build step, no network)
"""
