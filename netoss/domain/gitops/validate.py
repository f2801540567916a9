"""Everything wrong with a commit of the intent repository, at once: its settings, intent,
templates, compliance policy and service catalog, each problem named by file and key.

The loaders are the collection's own (the ones sot_sync, config_render, the compliance check
and service orders use), so a commit that passes here is one they accept. Paths in the
problems are relative to the repository's root, whatever directory it was exported to.
"""

from __future__ import annotations

import os
from pathlib import Path

from ansible_collections.netoss.core.plugins.module_utils.compliance_policy import load_policy
from ansible_collections.netoss.core.plugins.module_utils.config_render import check_templates
from ansible_collections.netoss.core.plugins.module_utils.intent_load import load_intent
from ansible_collections.netoss.core.plugins.module_utils.schema_files import Problem, ProblemsError
from ansible_collections.netoss.core.plugins.module_utils.service_catalog import load_catalog
from netoss.domain.gitops import settings as gitops_settings


def _relative(problem: Problem, root: Path) -> Problem:
    file = problem.file
    for prefix in (str(root) + os.sep, str(root.resolve()) + os.sep):
        if file.startswith(prefix):
            file = file[len(prefix) :]
    return Problem(file, problem.where, problem.message)


def validate(root: Path) -> tuple[gitops_settings.Settings | None, list[Problem]]:
    """The repository's settings and every problem of the commit exported at ``root``."""
    root = Path(root)
    settings, problems = gitops_settings.load(root)
    if settings is None:
        return None, problems
    loaders = [("intent", load_intent), ("policy", load_policy), ("catalog", load_catalog)]
    for key, loader in loaders:
        path = getattr(settings, key)
        if path is None:
            continue
        try:
            loader(str(root / path))
        except ProblemsError as exc:
            problems.extend(_relative(p, root) for p in exc.problems)
    if settings.templates is not None:
        for where, line, message in check_templates(str(root / settings.templates)):
            file = f"{settings.templates}/{where}" if where else settings.templates
            problems.append(Problem(file, f"line {line}" if line else "", message))
    return settings, problems
