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
Kind = Literal["bar", "line", "table"]
Suppression = Literal["", "count", "value"]
Granularity = Literal["YEAR", "MONTH", "DAY"]
NumberFormat = Literal["", "percent"]
Direction = Literal["ASC", "DESC"]


@dataclass(frozen=True)
class Field:
    column: str
    role: Role = "category"
    # QuickSight aggregation of a measure (SimpleNumericalAggregationFunction, or COUNT of rows); the local
    # renderer applies the same one in pandas.
    aggregation: str = "SUM"
    label: str | None = None
    # Small-cell suppression nulls cells in the population models. "count": a suppressed count, shown as
    # "<threshold>"; "value": a ratio or statistic nulled with its count, shown as "suppressed". Never a number.
    suppression: Suppression = ""
    granularity: Granularity = "YEAR"  # date fields: the period they are grouped by
    # How a NULL category reads (None: "unknown"), e.g. the ClinVar records that name no gene: a NULL gene is
    # not a gene called "unknown", so it gets a label saying what it is.
    null_label: str | None = None
    number_format: NumberFormat = ""  # "percent": a ratio shown as 12.5%

    @property
    def title(self) -> str:
        return self.label or self.column.replace("_", " ").capitalize()


@dataclass(frozen=True)
class Sort:
    """One sort key. Tables: the rows. Bar and line charts: the categories on the x axis (`Visual.sort`) or the
    colour groups (`Visual.color_sort`), each category ranked by `aggregation` of `column` over its rows."""

    column: str
    direction: Direction = "DESC"
    aggregation: str = "MAX"  # charts only (QuickSight SimpleNumericalAggregation)


@dataclass(frozen=True)
class Visual:
    id: str
    title: str
    kind: Kind
    model: str  # dbt model the visual reads (one QuickSight data set per model)
    x: Field | None = None  # category / date axis (bar, line)
    values: tuple[Field, ...] = ()
    color: Field | None = None  # a second category that splits the bars / lines
    columns: tuple[Field, ...] = ()  # tables: the columns shown, in order
    # Rows kept: (column, allowed values) pairs, all of which must hold.
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude: tuple[tuple[str, tuple[str, ...]], ...] = ()  # rows dropped: (column, values), any that holds
    sort: tuple[Sort, ...] = ()  # tables: row order; charts: order of the x categories (first key first)
    color_sort: tuple[Sort, ...] = ()  # charts split by color: order of the colour groups (legend)
    subtitle: str = ""
    # Bar charts split by color: stack the bars instead of grouping them. Only for values that add up across
    # the colour groups (events); distinct-patient counts per group overlap and must be grouped, not stacked.
    stacked: bool = False
    # Boolean column the model sets on rows whose cells small-cell suppression nulled. Only with it does a NULL
    # read as suppressed; a NULL in an unflagged row is missing data ("n/a").
    suppression_flag: str | None = None
    # Boolean column set on the rows of a period the data cover only in part (the year the data end in): the
    # chart marks it, so its drop does not read as a trend.
    partial_flag: str | None = None

    def fields(self) -> tuple[Field, ...]:
        return tuple(f for f in (self.x, self.color, *self.values, *self.columns) if f is not None)

    def columns_read(self) -> tuple[str, ...]:
        flags = [f for f in (self.suppression_flag, self.partial_flag) if f]
        sorts = [s.column for s in (*self.sort, *self.color_sort)]
        return tuple(dict.fromkeys([*(f.column for f in self.fields()), *(c for c, _ in self.filters),
                                    *(c for c, _ in self.exclude), *sorts, *flags]))


@dataclass(frozen=True)
class Sheet:
    id: str
    name: str
    visuals: tuple[Visual, ...]
    description: str = ""


@dataclass(frozen=True)
class PatientLabel:
    """How the local patient selector names a patient, so a user can find one by typing: a short prefix of the
    pseudonymous key (lengthened where two listed patients would share it), sex, age in years (capped, as
    HIPAA's safe harbour caps ages over 89) and the modalities the patient has. Never a name or an exact
    date. The modality columns also order the list: patients with every modality first, the page opening on
    the first of them."""

    sex: str = "gender"
    age: str = "age_years"
    modalities: tuple[tuple[str, str], ...] = (
        ("has_clinical", "clinical"), ("has_genomics", "genomics"), ("has_imaging", "imaging"))
    prefix_length: int = 8
    age_cap: int = 90

    def columns(self) -> tuple[str, ...]:
        return (self.sex, self.age, *(c for c, _ in self.modalities))


@dataclass(frozen=True)
class Dashboard:
    id: str
    name: str
    sheets: tuple[Sheet, ...]
    # Patient dashboard: every visual is filtered to one patient, chosen with a control bound to this column.
    patient_filter_column: str | None = None
    patient_list_model: str | None = None  # the model whose patient_key values fill the selector
    patient_label: PatientLabel | None = None  # columns of patient_list_model naming a patient in the selector

    def visuals(self) -> tuple[Visual, ...]:
        return tuple(v for s in self.sheets for v in s.visuals)

    def models(self) -> tuple[str, ...]:
        names = [v.model for v in self.visuals()]
        if self.patient_list_model:
            names.append(self.patient_list_model)
        return tuple(dict.fromkeys(names))


def _count(column: str, label: str | None = None) -> Field:
    return Field(column, "measure", "SUM", label, suppression="count")


def _masked(column: str, label: str | None = None, aggregation: str = "AVERAGE", number_format: str = "") -> Field:
    """A ratio or statistic that the population models null together with a small count."""
    return Field(column, "measure", aggregation, label, suppression="value", number_format=number_format)


def _measure(column: str, label: str | None = None, aggregation: str = "SUM") -> Field:
    return Field(column, "measure", aggregation, label)


SUPPRESSION_FLAG = "is_suppressed"  # set by every population model (sq_* and population_*)

# ClinVar records that name no gene (intergenic or unassigned sites), pooled per clinical significance: shown
# under this label, never as a gene (they were once "unknown", which reads as one). population_genomic writes it
# into gene_symbol (its quality gate keys on a non-null gene); sq_pathogenic_carriers_by_gene keeps the NULL of
# the saved query, which both renderers label with it.
NO_GENE = "(no gene: pooled records)"


def _population_visual(**kwargs) -> Visual:
    return Visual(suppression_flag=SUPPRESSION_FLAG, **kwargs)


OUTCOMES = (
    ("stroke", "Stroke"),
    ("hypertension", "Hypertension"),
    ("coronary_heart_disease", "Coronary heart disease"),
    ("alzheimers", "Alzheimer's disease"),
)

# The population dashboard reads the saved-query models of models/semantic/ (the semantic layer's metrics,
# materialized with small-cell suppression) and the population marts, which are suppressed the same way.
POPULATION = Dashboard(
    id="mmhealth-population",
    name="mmhealth - Population",
    sheets=(
        Sheet(
            id="clinical",
            name="Clinical",
            description="Who is in the population, how often they are seen, and how common each outcome is. "
            "Ratios over fewer patients than the small-cell threshold are not shown.",
            visuals=(
                _population_visual(
                    id="clinical-patients-by-age-sex",
                    title="Patients by age band and sex",
                    kind="bar",
                    model="sq_patients_by_age_band_sex",
                    x=Field("age_band", label="Age band"),
                    color=Field("sex", label="Sex"),
                    values=(_count("patient_count", "Patients"),),
                ),
                _population_visual(
                    id="clinical-outcome-prevalence",
                    title="Outcome prevalence by sex",
                    kind="bar",
                    model="sq_outcomes_by_sex",
                    x=Field("sex", label="Sex"),
                    values=tuple(_masked(f"prevalence_{o}", label, number_format="percent") for o, label in OUTCOMES),
                    subtitle="Share of all patients ever diagnosed (metrics prevalence_*).",
                ),
                _population_visual(
                    id="clinical-encounters-by-year",
                    title="Encounters per year by class",
                    kind="line",
                    model="sq_encounters_by_year_class",
                    x=Field("encounter_year", "date", label="Year"),
                    color=Field("encounter_class", label="Encounter class"),
                    values=(_count("encounter_count", "Encounters"),),
                    partial_flag="is_partial_year",
                    subtitle="The year the data end in is partial (marked): its drop is not a trend.",
                ),
                _population_visual(
                    id="clinical-encounters-per-patient",
                    title="Encounters per patient by sex",
                    kind="bar",
                    model="sq_outcomes_by_sex",
                    x=Field("sex", label="Sex"),
                    values=(_masked("encounters_per_patient", "Encounters per patient"),),
                ),
                _population_visual(
                    id="clinical-diagnoses",
                    title="Diagnoses",
                    kind="table",
                    model="population_clinical",
                    filters=(("section", ("diagnoses",)),),
                    columns=(
                        Field("category", label="SNOMED CT code"),
                        Field("category_label", label="Diagnosis"),
                        _count("patient_count", "Patients"),
                        _count("event_count", "Diagnoses"),
                    ),
                    sort=(Sort("patient_count"),),
                ),
                _population_visual(
                    id="clinical-procedures",
                    title="Procedures",
                    kind="table",
                    model="population_clinical",
                    filters=(("section", ("procedures",)),),
                    columns=(
                        Field("category", label="Code"),
                        Field("category_label", label="Procedure"),
                        _count("patient_count", "Patients"),
                        _count("event_count", "Procedures"),
                    ),
                    sort=(Sort("patient_count"),),
                ),
            ),
        ),
        Sheet(
            id="genomic",
            name="Genomic",
            description="Carriers of ClinVar-classified variants per gene; pathogenic and likely pathogenic first.",
            visuals=(
                _population_visual(
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
                _population_visual(
                    id="genomic-carriers-by-gene",
                    title="Pathogenic variant carriers per gene",
                    kind="bar",
                    model="sq_pathogenic_carriers_by_gene",
                    x=Field("gene", label="Gene", null_label=NO_GENE),
                    values=(_count("pathogenic_variant_carriers", "Carriers"),),
                    sort=(Sort("pathogenic_variant_carriers", aggregation="SUM"),),
                    subtitle="Patients with a pathogenic or likely pathogenic allele (metric pathogenic_variant_carriers).",
                ),
                _population_visual(
                    id="genomic-significance-by-gene",
                    title="Carriers by gene and clinical significance",
                    kind="bar",
                    model="population_genomic",
                    exclude=(("gene_symbol", (NO_GENE,)),),
                    x=Field("gene_symbol", label="Gene"),
                    color=Field("clinical_significance", label="Clinical significance"),
                    values=(_count("carrier_count", "Carriers"),),
                    # Side by side, never stacked: one patient can carry alleles of several classes in a gene, so
                    # the distinct-carrier counts of a gene's classes overlap and their sum counts people twice.
                    sort=(Sort("significance_rank"), Sort("carrier_count")),
                    color_sort=(Sort("significance_rank"),),
                    subtitle="Distinct carriers per gene and class, side by side (a patient may carry several "
                    "classes). ClinVar records that name no gene are in the table below, not drawn as a gene.",
                ),
                _population_visual(
                    id="genomic-carriers-with-outcomes",
                    title="Carriers with each outcome",
                    kind="table",
                    model="population_genomic",
                    columns=(
                        Field("gene_symbol", label="Gene"),
                        Field("clinical_significance", label="Clinical significance"),
                        _count("carrier_count", "Carriers"),
                        _masked("variant_count", "Variants", "SUM"),
                        *(_count(f"carriers_with_{o}", label) for o, label in OUTCOMES),
                    ),
                    sort=(Sort("significance_rank"), Sort("carrier_count")),
                    subtitle="Pathogenic and likely pathogenic first (ClinVar significance, then carriers). "
                    f'"{NO_GENE}": the carriers of any ClinVar record of that class that names no gene.',
                ),
            ),
        ),
        Sheet(
            id="imaging",
            name="Imaging",
            description="Segmented lesions and radiomic feature distributions of the image sets, by modality.",
            visuals=(
                _population_visual(
                    id="imaging-image-sets-by-modality",
                    title="Image sets with radiomics by modality",
                    kind="bar",
                    model="sq_lesion_volume_by_modality",
                    x=Field("modality", label="Modality"),
                    values=(_count("imaged_patient_count", "Patients"), _count("image_set_count", "Image sets")),
                ),
                _population_visual(
                    id="imaging-mean-lesion-volume",
                    title="Mean lesion volume by modality (mm³)",
                    kind="bar",
                    model="sq_lesion_volume_by_modality",
                    x=Field("modality", label="Modality"),
                    values=(_masked("mean_lesion_volume_mm3", "Mean lesion volume (mm³)"),),
                ),
                _population_visual(
                    id="imaging-feature-distributions",
                    title="Radiomic feature distributions",
                    kind="table",
                    model="population_imaging",
                    columns=(
                        Field("modality", label="Modality"),
                        Field("feature_name", label="Feature"),
                        _count("n_patients", "Patients"),
                        _masked("p10_value", "P10"),
                        _masked("median_value", "Median"),
                        _masked("mean_value", "Mean"),
                        _masked("p90_value", "P90"),
                    ),
                    sort=(Sort("feature_name", "ASC"), Sort("modality", "ASC")),
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
    patient_label=PatientLabel(),
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
                        Field("gender", label="Sex"),
                        Field("age_years", label="Age"),
                        Field("has_clinical", label="Clinical"),
                        Field("has_genomics", label="Genomics"),
                        Field("has_imaging", label="Imaging"),
                        Field("n_encounters", label="Encounters"),
                        Field("apoe_genotype", label="APOE"),
                        Field("n_pathogenic", label="Pathogenic alleles"),
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
                    stacked=True,
                ),
                Visual(
                    id="patient-blood-pressure",
                    title="Clinical: blood pressure (mm[Hg])",
                    kind="line",
                    model="patient_timeline",
                    filters=(("code", ("8480-6", "8462-4")),),
                    x=Field("event_date", "date", label="Date", granularity="DAY"),
                    color=Field("description", label="Measure"),
                    values=(_measure("value_numeric", "mm[Hg]", "AVERAGE"),),
                ),
                Visual(
                    id="patient-variants",
                    title="Genomic: ClinVar-matched variants",
                    kind="table",
                    model="fct_variant_clinvar",
                    columns=(
                        Field("gene_symbol", label="Gene", null_label="(no gene)"),
                        Field("rsid", label="rsID"),
                        Field("clinical_significance", label="Clinical significance"),
                        Field("significance_rank", label="Rank (5 = pathogenic)"),
                        Field("zygosity", label="Zygosity"),
                    ),
                    sort=(Sort("significance_rank"),),
                ),
                Visual(
                    id="patient-lesions",
                    title="Imaging: segmented lesion volume per image set (mm³)",
                    kind="bar",
                    model="fct_radiomics",
                    x=Field("image_set_id", label="Image set"),
                    color=Field("modality", label="Modality"),
                    values=(_measure("mask_volume_mm3", "Lesion volume (mm³)", "SUM"),),
                ),
                Visual(
                    id="patient-events",
                    title="Events",
                    kind="table",
                    model="patient_timeline",
                    columns=(
                        Field("event_date", "date", label="Date"),
                        Field("modality", label="Modality"),
                        Field("event_type", label="Event"),
                        Field("description", label="Description"),
                        Field("value_numeric", label="Value"),
                        Field("value_unit", label="Unit"),
                    ),
                    sort=(Sort("event_date"),),
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
            for column in visual.columns_read():
                if column not in have:
                    check.problems.append(LayoutProblem(visual.id, visual.model, column, "column not found"))
            if dash.patient_filter_column and dash.patient_filter_column not in have:
                check.problems.append(
                    LayoutProblem(visual.id, visual.model, dash.patient_filter_column, "patient filter column missing")
                )
        if dash.patient_label and dash.patient_list_model in columns:
            have = columns[dash.patient_list_model]
            for column in dash.patient_label.columns():
                if column not in have:
                    check.problems.append(
                        LayoutProblem("patient-selector", dash.patient_list_model, column, "column not found"))
    return check
