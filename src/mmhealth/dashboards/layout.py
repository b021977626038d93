"""What the two dashboards show, stated once as data.

Both renderers read these dataclasses: `quicksight.py` turns them into QuickSight dashboard definitions and
`local.py` into static HTML pages, so the AWS dashboards and the local ones cannot drift apart. Every visual
names the dbt model (mart) it reads and the columns it uses; `check_against_manifest` proves those columns
exist before anything is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["category", "date", "measure"]
Kind = Literal["bar", "line", "table", "kpi", "scatter"]


@dataclass(frozen=True)
class Field:
    column: str
    role: Role = "category"
    # QuickSight aggregation of a measure (SimpleNumericalAggregationFunction); the local renderer applies the
    # same one in pandas when a page shows more than one row per category.
    aggregation: str = "SUM"
    label: str | None = None
    # A count that small-cell suppression may have nulled: shown as "<threshold>", never as a number.
    suppressible: bool = False

    @property
    def title(self) -> str:
        return self.label or self.column.replace("_", " ").capitalize()


@dataclass(frozen=True)
class Visual:
    id: str
    title: str
    kind: Kind
    model: str  # dbt model the visual reads (one QuickSight data set per model)
    x: Field | None = None  # category / date axis (bar, line, scatter)
    values: tuple[Field, ...] = ()
    color: Field | None = None  # a second category that splits the bars / lines
    columns: tuple[Field, ...] = ()  # tables: the columns shown, in order
    subtitle: str = ""

    def fields(self) -> tuple[Field, ...]:
        return tuple(f for f in (self.x, self.color, *self.values, *self.columns) if f is not None)


@dataclass(frozen=True)
class Sheet:
    id: str
    name: str
    visuals: tuple[Visual, ...]
    description: str = ""


@dataclass(frozen=True)
class Dashboard:
    id: str
    name: str
    sheets: tuple[Sheet, ...]
    # Patient dashboard: every visual is filtered to one patient, chosen with a control bound to this column.
    patient_filter_column: str | None = None
    patient_list_model: str | None = None  # the model whose patient_key values fill the selector

    def visuals(self) -> tuple[Visual, ...]:
        return tuple(v for s in self.sheets for v in s.visuals)

    def models(self) -> tuple[str, ...]:
        names = [v.model for v in self.visuals()]
        if self.patient_list_model:
            names.append(self.patient_list_model)
        return tuple(dict.fromkeys(names))


def _count(column: str, label: str | None = None) -> Field:
    return Field(column, "measure", "SUM", label, suppressible=True)


def _measure(column: str, label: str | None = None, aggregation: str = "SUM") -> Field:
    return Field(column, "measure", aggregation, label)


# The population dashboard reads the saved-query models in models/semantic/ (the metrics of the semantic layer,
# materialized and suppressed) and the population marts of the dbt project.
POPULATION = Dashboard(
    id="mmhealth-population",
    name="mmhealth - Population",
    sheets=(
        Sheet(
            id="clinical",
            name="Clinical",
            description="Who is in the population, how often they are seen, and how common each outcome is.",
            visuals=(
                Visual(
                    id="clinical-patients-by-age-sex",
                    title="Patients by age band and sex",
                    kind="bar",
                    model="sq_patients_by_age_band_sex",
                    x=Field("age_band", label="Age band"),
                    color=Field("sex", label="Sex"),
                    values=(_count("patient_count", "Patients"),),
                ),
                Visual(
                    id="clinical-outcome-prevalence",
                    title="Outcome prevalence by sex",
                    kind="bar",
                    model="sq_outcomes_by_sex",
                    x=Field("sex", label="Sex"),
                    values=(
                        _measure("prevalence_stroke", "Stroke", "AVERAGE"),
                        _measure("prevalence_hypertension", "Hypertension", "AVERAGE"),
                        _measure("prevalence_coronary_heart_disease", "Coronary heart disease", "AVERAGE"),
                        _measure("prevalence_alzheimers", "Alzheimer's", "AVERAGE"),
                    ),
                    subtitle="Share of patients with the diagnosis; groups under the small-cell threshold hidden.",
                ),
                Visual(
                    id="clinical-encounters-by-year",
                    title="Encounters per year by class",
                    kind="line",
                    model="sq_encounters_by_year_class",
                    x=Field("encounter_year", "date", label="Year"),
                    color=Field("encounter_class", label="Encounter class"),
                    values=(_count("encounter_count", "Encounters"),),
                ),
                Visual(
                    id="clinical-encounters-per-patient",
                    title="Encounters per patient by sex",
                    kind="bar",
                    model="sq_outcomes_by_sex",
                    x=Field("sex", label="Sex"),
                    values=(_measure("encounters_per_patient", "Encounters per patient", "AVERAGE"),),
                ),
            ),
        ),
        Sheet(
            id="genomic",
            name="Genomic",
            description="Carriers of pathogenic and likely-pathogenic ClinVar variants, per gene.",
            visuals=(
                Visual(
                    id="genomic-modality-coverage",
                    title="Patients with each modality",
                    kind="table",
                    model="sq_modality_coverage",
                    columns=(
                        _count("patient_count", "Patients"),
                        _count("patients_with_clinical", "With clinical data"),
                        _count("patients_with_genomics", "With genomics"),
                        _count("patients_with_imaging", "With imaging"),
                    ),
                ),
                Visual(
                    id="genomic-carriers-by-gene",
                    title="Pathogenic variant carriers per gene",
                    kind="bar",
                    model="sq_pathogenic_carriers_by_gene",
                    x=Field("gene", label="Gene"),
                    values=(_count("pathogenic_variant_carriers", "Carriers"),),
                ),
            ),
        ),
        Sheet(
            id="imaging",
            name="Imaging",
            description="Radiomic lesion volumes across image sets, by modality.",
            visuals=(
                Visual(
                    id="imaging-image-sets-by-modality",
                    title="Image sets by modality",
                    kind="bar",
                    model="sq_lesion_volume_by_modality",
                    x=Field("modality", label="Modality"),
                    values=(_count("image_set_count", "Image sets"),),
                ),
                Visual(
                    id="imaging-mean-lesion-volume",
                    title="Mean lesion volume by modality (mm³)",
                    kind="bar",
                    model="sq_lesion_volume_by_modality",
                    x=Field("modality", label="Modality"),
                    values=(_measure("mean_lesion_volume_mm3", "Mean lesion volume (mm³)", "AVERAGE"),),
                ),
            ),
        ),
    ),
)

PATIENT = Dashboard(
    id="mmhealth-patient",
    name="mmhealth - Patient",
    patient_filter_column="patient_key",
    patient_list_model="patient_360",
    sheets=(
        Sheet(
            id="patient",
            name="Patient",
            description="One patient across clinical, genomic and imaging data; choose the patient above.",
            visuals=(
                Visual(
                    id="patient-summary",
                    title="Patient",
                    kind="table",
                    model="patient_360",
                    columns=(
                        Field("patient_key", label="Patient key"),
                        Field("sex", label="Sex"),
                        Field("age_band", label="Age band"),
                        Field("has_clinical", label="Clinical"),
                        Field("has_genomics", label="Genomics"),
                        Field("has_imaging", label="Imaging"),
                    ),
                ),
                Visual(
                    id="patient-timeline",
                    title="Timeline: events per year by modality",
                    kind="bar",
                    model="patient_timeline",
                    x=Field("event_date", "date", label="Year"),
                    color=Field("modality", label="Modality"),
                    values=(Field("event_type", "measure", "COUNT", "Events"),),
                ),
                Visual(
                    id="patient-events",
                    title="Clinical events",
                    kind="table",
                    model="patient_timeline",
                    columns=(
                        Field("event_date", "date", label="Date"),
                        Field("modality", label="Modality"),
                        Field("event_type", label="Event"),
                        Field("description", label="Description"),
                    ),
                ),
                Visual(
                    id="patient-variants",
                    title="Genomic: ClinVar-matched variants",
                    kind="table",
                    model="fct_variant_clinvar",
                    columns=(
                        Field("gene", label="Gene"),
                        Field("clinical_significance", label="Clinical significance"),
                        Field("zygosity", label="Zygosity"),
                    ),
                ),
                Visual(
                    id="patient-lesions",
                    title="Imaging: lesion volume per image set (mm³)",
                    kind="bar",
                    model="fct_radiomics",
                    x=Field("image_set_id", label="Image set"),
                    color=Field("modality", label="Modality"),
                    values=(_measure("lesion_volume_mm3", "Lesion volume (mm³)", "SUM"),),
                ),
            ),
        ),
    ),
)

DASHBOARDS: tuple[Dashboard, ...] = (POPULATION, PATIENT)


@dataclass
class LayoutProblem:
    visual: str
    model: str
    column: str
    why: str


@dataclass
class LayoutCheck:
    problems: list[LayoutProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_against_columns(dashboards: tuple[Dashboard, ...], columns: dict[str, set[str]]) -> LayoutCheck:
    """Every model a visual reads must exist and hold every column the visual uses. Pure: `columns` maps
    model name to its column names (from the manifest or from the warehouse)."""
    check = LayoutCheck()
    for dash in dashboards:
        for visual in dash.visuals():
            have = columns.get(visual.model)
            if have is None:
                check.problems.append(LayoutProblem(visual.id, visual.model, "", "model not found"))
                continue
            for f in visual.fields():
                if f.column not in have:
                    check.problems.append(LayoutProblem(visual.id, visual.model, f.column, "column not found"))
            if dash.patient_filter_column and dash.patient_filter_column not in have:
                check.problems.append(
                    LayoutProblem(visual.id, visual.model, dash.patient_filter_column, "patient filter column missing")
                )
    return check
