"""How many places write each default of the WiSE-FT and transfer configs and of the student (07/12), in the library's source (robustify_nb/*.py)
of this checkout or of a git revision. A place is a keyword default (`name=value` or `name:type=value`, in a signature,
a dataclass field or a dict; not one quoted in backticks in a docstring or message, nor in a comment) or a command-line flag's default (`'--name', ... default=value`), the value written as in
the config (or as the code before it wrote it). A default that refers to the constant holding it (`passes:int=STUDENT_DEFAULTS['mc_passes']`)
writes no value, so it is no new place: only the constant's own `mc_passes=8` counts. Evidence for issue 15's "each default written once".

    python tests/count_defaults.py [GIT_REV]
"""
import re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# field -> (the names it had before the config: function keywords, flags; the values as written)
FIELDS = {
  'wiseft': dict(n_train=(['n_train'], ['5000']), n_eval=(['n_eval', 'n'], ['500']), e2e_epochs=(['e2e_epochs'], ['5']),
                 lc_epochs=(['lc_epochs'], ['10']), e2e_lr=(['e2e_lr'], ['5e-3']), severity=(['severity'], ['3']),
                 alphas=(['alphas'], [r"tuple\((float\(a\) for a in )?np\.round\(np\.linspace\(0, 1, 11\), 2\)\)", r"'0:1:0\.1'"]),
                 variants=(['variants', 'finetuned'], [r"\('LC', 'E2E'\)", r"\['e2e', 'lc'\]"])),   # the CLI's --finetuned e2e lc
  'transfer': dict(eps=(['eps'], [r"[\[(]0(\.0)?, 0\.05, 0\.1, 0\.25, 0\.5[\])]"]), tasks=(['tasks'], [r"[\[(]'family', 'shape-colour', 'cifar10'[\])]"]),
                   modes=(['modes'], [r"[\[(]'fixed', 'full'[\])]"]), sizes=(['sizes'], [r"[\[(]32,?[\])]"]),
                   n_source=(['n_source', 'n_train'], ['5000']), source_epochs=(['source_epochs', 'epochs'], ['10', '5']),
                   steps=(['steps'], ['2']), source_lr=(['source_lr', 'lr'], ['0.1']), source_batch_size=(['source_batch_size', 'batch_size'], ['64']),
                   n_task=(['n_task'], ['2000']), n_test=(['n_test'], ['1000']), probe_epochs=(['probe_epochs'], ['30']), ft_epochs=(['ft_epochs'], ['4'])),
  'student': dict(tune=(['tune'], [r"\(0, 1, -1\)"]), p_drop=(['p_drop'], ['0.2']), freeze_bn=(['freeze_bn'], ['True']), clean_path=(['clean_path'], ["'original'"]),
                  T=(['T'], ['2.0']), mc_passes=(['mc_passes', 'passes'], ['8']), gate=(['gate'], ["'soft'"]), threshold=(['threshold'], ['0.5']),
                  uncertainty=(['uncertainty'], ["'entropy'"]), p_pixmix=(['p_pixmix'], ['0.6']), epochs=(['epochs', 'student_epochs'], ['1']),
                  lr=(['lr', 'student_lr'], ['0.01'])),
}
SPECIAL = '([\\'      # a value written as a regular expression
# hits of a field's older, shorter name that are another setting with the same value (printed with -v, not counted)
OTHER = {('transfer', 'source_epochs', 'cli.py', "sp.add_argument('--epochs', type=int, default=5)"): "`robustify train`'s own epochs",
         ('transfer', 'source_lr', 'cli.py', "lr=0.1, batch_size=min(128, n), warmup=5"): "check-gpu's mixed-precision epoch",
         ('transfer', 'source_batch_size', 'transfer.py', "def finetune(model:nn.Module"): "the downstream fine-tuning's batch size (no field)"}
FILES = {'wiseft': ['wiseft.py', 'cli.py'], 'transfer': ['transfer.py', 'cli.py'], 'student': ['student.py', 'router.py', 'robustify.py', 'cli.py']}

def source(rev, name):
    if rev is None: return (ROOT/'robustify_nb'/name).read_text()
    return subprocess.run(['git', '-C', str(ROOT), 'show', f'{rev}:robustify_nb/{name}'], capture_output=True, text=True, check=True).stdout

def places(text, names, values):
    "Lines writing one of `names` with one of `values` as its default."
    hits = []
    for i, line in enumerate(text.splitlines(), 1):
        code = re.sub(r'\s#\s.*$', '', line)      # a comment (docments included) mentions a setting, it writes no default
        for n in names:
            for v in values:
                pat = v if any(c in v for c in SPECIAL) else re.escape(v)
                flag_name = '--' + n.replace('_', '-')
                kw = rf"(?<![\w.'\"`-]){n}\s*(:\s*[^=,()]+(\[[^\]]*\])?)?\s*=\s*{pat}(?![\w.])"
                flag = rf"'{flag_name}'[^)]*?default\s*=\s*{pat}(?![\w.])"
                hits += [(i, line.strip()[:110]) for m in re.finditer(kw, code)] + [(i, line.strip()[:110]) for m in re.finditer(flag, code)]
    return sorted(set(hits))

def counts(rev=None, read=source) -> dict:
    "{experiment: {field: (places, hits of another setting)}}, each hit (file, line number, line); `read(rev, file)` gives a file's text."
    out = {}
    for exp, fields in FIELDS.items():
        out[exp] = {}
        for f, (names, values) in fields.items():
            hits = [(name, i, l) for name in FILES[exp] for i, l in places(read(rev, name), names, values)]
            why = lambda n, l: next((w for (e, g, fn, t), w in OTHER.items() if (e, g, fn) == (exp, f, n) and t in l), None)
            out[exp][f] = ([h for h in hits if not why(h[0], h[2])], [(*h, why(h[0], h[2])) for h in hits if why(h[0], h[2])])
    return out

if __name__ == '__main__':
    args = [a for a in sys.argv[1:] if a != '-v']; rev = args[0] if args else None
    for exp, fields in counts(rev).items():
        print(f"== {exp} ({rev or 'working tree'})")
        for f, (found, other) in fields.items():
            print(f"  {f:18} {len(found)}  " + ' | '.join(f"{n}:{i}" for n, i, _ in found))
            if '-v' in sys.argv:
                for n, i, l in found: print(f"        {n}:{i}: {l}")
                for n, i, l, w in other: print(f"        not counted, {w}: {n}:{i}: {l}")
