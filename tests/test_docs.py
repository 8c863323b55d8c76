"The offline documentation tools: README generation and the notebook conversion the Sphinx site is built from."
import importlib.util, json, sys
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location('nbdocs', ROOT/'docs/nbdocs.py'); nbdocs = importlib.util.module_from_spec(spec); spec.loader.exec_module(nbdocs)

def test_readme_is_generated_from_index():
    assert nbdocs.readme(check=True) == 0, 'README.md is stale: run `make readme`'

def _cell(kind, src, outputs=None):
    c = dict(cell_type=kind, metadata={}, source=src)
    if kind == 'code': c.update(outputs=outputs or [], execution_count=None)
    return c

def test_convert_makes_processed_notebooks_sphinx_ready():
    fig = {'data': [{'type': 'bar', 'x': ['a'], 'y': [1]}], 'layout': {'height': 300}}
    nb = dict(metadata={'widgets': {}}, nbformat=4, nbformat_minor=5, cells=[
        _cell('raw', '---\ndescription: One line\noutput-file: core.html\ntitle: Core\n---\n'),
        _cell('markdown', '::: {.column-margin}\nprose\n:::'),
        _cell('code', '#| echo: false\n#| output: asis\nshow_doc(f)', [dict(output_type='display_data', metadata={}, data={'text/markdown': '---\n\n### f\n', 'text/plain': 'x'})]),
        _cell('code', 'fig', [dict(output_type='execute_result', metadata={}, data={'application/vnd.plotly.v1+json': fig, 'text/plain': 'Figure'})]),
        _cell('code', 'train()', [dict(output_type='display_data', metadata={}, data={'application/vnd.jupyter.widget-view+json': {}, 'text/plain': 'train:  40%|####      | 4/10'})]),
    ])
    out = nbdocs.convert(nb)
    cells = out['cells']
    assert cells[0]['source'] == '# Core\n\n*One line*'                       # frontmatter -> title and summary
    assert cells[1]['source'] == 'prose'                                      # no Quarto fences
    assert 'remove-input' in cells[2]['metadata']['tags'] and not cells[2]['source'].startswith('#|')
    assert cells[2]['outputs'][0]['data']['text/markdown'].startswith('### f')
    html = cells[3]['outputs'][0]['data']['text/html']
    assert 'Plotly.newPlot' in html and '"type": "bar"' in html and 'application/vnd.plotly.v1+json' not in cells[3]['outputs'][0]['data']
    assert cells[4]['outputs'][0]['data'] == {'text/plain': ''}               # progress bars vanish
    assert 'widgets' not in out['metadata']
