# Sphinx configuration of the robustify-nb documentation site (built by `make docs`, see docs/nbdocs.py).
project = 'robustify-nb'
author = 'robustify-nb developers'
extensions = ['myst_nb']
nb_execution_mode = 'off'                 # notebooks arrive executed (make demo); the docs build runs nothing
myst_enable_extensions = ['colon_fence', 'dollarmath', 'amsmath']
nb_render_markdown_format = 'myst'
html_theme = 'pydata_sphinx_theme'
html_title = 'robustify-nb'
html_favicon = 'favicon.svg'              # without one, browsers ask for /favicon.ico and log a 404 on every page
html_static_path = ['_static']
html_js_files = ['plotly.min.js']         # once for the whole site; figures are plain divs
html_css_files = ['robustify.css']       # figures fit the content column (docs/nbdocs.py writes it)
# MathJax is served from the site itself (copied from the django-static-mathjax package by docs/nbdocs.py): the site
# renders its formulas offline, with no CDN
mathjax_path = 'mathjax/tex-mml-chtml.js'
# the theme's colour mode: without a default its script logs 'Got invalid theme mode' on every page
html_context = {'default_mode': 'light'}
html_theme_options = {'navigation_depth': 2, 'show_toc_level': 2}
exclude_patterns = ['_build', '**.ipynb_checkpoints']
suppress_warnings = ['mystnb.unknown_mime_type', 'myst.header']
