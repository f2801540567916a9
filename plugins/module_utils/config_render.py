# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage 2 of rendering: a device's structured data -> its configuration text.

Templates live in one directory per platform (the NetBox platform slug: ``frr``, ``eos``,
``ios``), one file per feature (``00-base.j2``, ``30-interfaces.j2``…). They render in the
natural order of their file names and their outputs are concatenated. Rendering is strict:
an undefined variable is an error, and every error names the platform, the template file
and, when Jinja knows it, the line.

Before any template runs, every value of the data is checked against the pattern of its kind
(:func:`config_values.check_data`): a value with a newline, a control character, a character
the platform's CLI treats specially or an unbounded length is refused, with its place in the
data named, and nothing is rendered. No value can add a line to a configuration.
"""

from __future__ import annotations

import os
import re
import traceback

from ansible_collections.netoss.core.plugins.module_utils import config_values


class RenderError(ValueError):
    """A device's configuration could not be rendered; the message names the template."""


def _natural(text):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def platforms(template_root):
    """The platforms that have templates under ``template_root``."""
    if not os.path.isdir(template_root):
        return []
    return sorted(d for d in os.listdir(template_root) if os.path.isdir(os.path.join(template_root, d)))


def feature_files(template_root, platform):
    """The platform's template files, in rendering order; RenderError if it has none."""
    directory = os.path.join(template_root, platform or "")
    files = (
        sorted((f for f in os.listdir(directory) if f.endswith(".j2")), key=_natural)
        if platform and (os.path.isdir(directory))
        else []
    )
    if not files:
        known = ", ".join(platforms(template_root)) or "none"
        raise RenderError(
            "no templates for platform %r in %s (platforms with templates: %s)" % (platform, template_root, known)
        )
    return files


def _environment(directory):
    """Jinja's sandbox: templates may come from a commit (GitOps plans render a merge request's
    own templates), so none may reach Python's internals (``''.__class__...``) or change the
    data it is given."""
    import jinja2
    import jinja2.sandbox

    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(directory),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # device configuration text, not HTML
    )
    return env


def check_templates(template_root):
    """Every problem of the templates under ``template_root`` that shows before any data is
    given (syntax, an unknown filter or test): a list of (``platform/file``, line, message),
    empty when they all compile. A directory with no platform is a problem too."""
    import jinja2

    found = platforms(template_root)
    if not found:
        return [("", None, "no platform directory with templates (frr/, eos/, ios/...) in %s" % template_root)]
    problems = []
    for platform in found:
        env = _environment(os.path.join(template_root, platform))
        try:
            files = feature_files(template_root, platform)
        except RenderError as exc:
            problems.append((platform, None, str(exc)))
            continue
        for filename in files:
            try:
                env.get_template(filename)
            except jinja2.TemplateSyntaxError as exc:
                problems.append(("%s/%s" % (platform, filename), exc.lineno, exc.message))
            except (jinja2.TemplateError, UnicodeDecodeError) as exc:
                problems.append(("%s/%s" % (platform, filename), None, str(exc)))
    return problems


def _template_line(exc, filename):
    """The line of ``filename`` where a runtime error was raised, from the traceback."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename and frame.filename.endswith(os.sep + filename):
            line = frame.lineno
    return line


def render(data, template_root, platform=None, user_secrets=None):
    """The configuration text of the device whose structured data is ``data``.

    ``user_secrets`` maps user names to password hashes: secrets never live in NetBox, so
    they come from the controller (an Ansible Vault variable) for platforms with local users.
    """
    import jinja2

    platform = platform or data.get("platform")
    files = feature_files(template_root, platform)
    try:
        config_values.check_data(data, user_secrets)
    except config_values.ConfigValueError as exc:
        raise RenderError("refusing to render: %s" % exc) from None
    env = _environment(os.path.join(template_root, platform))
    parts = []
    for filename in files:
        where = "%s/%s" % (platform, filename)
        try:
            parts.append(env.get_template(filename).render(data, user_secrets=user_secrets or {}))
        except jinja2.TemplateSyntaxError as exc:
            raise RenderError("template %s line %s: %s" % (where, exc.lineno, exc.message)) from None
        except jinja2.TemplateError as exc:
            line = _template_line(exc, filename)
            raise RenderError(
                "template %s%s: %s" % (where, " line %d" % line if line else "", exc.message or exc)
            ) from None
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            line = _template_line(exc, filename)
            raise RenderError("template %s%s: %s" % (where, " line %d" % line if line else "", exc)) from None
    text = "".join(parts)
    # One blank-free text with a single trailing newline, whatever the templates' whitespace.
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    return "\n".join(lines) + "\n"
