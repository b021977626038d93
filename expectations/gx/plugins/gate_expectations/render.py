"""One-line Data Docs renderings for the gate's own expectations (GE otherwise prints their raw kwargs)."""

from __future__ import annotations

from great_expectations.render import LegacyRendererType, RenderedStringTemplateContent
from great_expectations.render.renderer.renderer import renderer


def sentence(template: str, params_of):
    """A GE prescriptive renderer that fills `template` with `params_of(kwargs)`."""

    @classmethod
    @renderer(renderer_type=LegacyRendererType.PRESCRIPTIVE)
    def _prescriptive_renderer(cls, configuration=None, result=None, runtime_configuration=None, **kwargs):
        styling = (runtime_configuration or {}).get("styling")
        params = params_of(dict(configuration.kwargs) if configuration else {})
        return [RenderedStringTemplateContent(
            content_block_type="string_template",
            string_template={"template": template, "params": params, "styling": styling},
        )]

    return _prescriptive_renderer


def bound(value) -> str:
    if isinstance(value, dict) and "$PARAMETER" in value:
        return f"<{value['$PARAMETER']}>"
    return "-" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)
