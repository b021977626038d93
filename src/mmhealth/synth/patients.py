"""Sampling one synthetic patient: demographics, latent risk factors, genotype at the modelled markers,
diagnosed conditions with onset dates, and death. Pure: (seed, index, params) -> PatientProfile.

Each patient draws from its own generator seeded with (seed, index), so patients are independent of each
other, of the order they are made in, and of how the work is split across processes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from mmhealth.synth import ids
from mmhealth.synth.model import MIN_ONSET_AGE, ONSET_MEAN_YEARS_BEFORE_EXTRACT, RECORD_YEARS, ModelParams, reference_ordinal
from mmhealth.synth.panel import marker_frequencies
from mmhealth.synth.vocab import RACES

DAYS_PER_YEAR = 365.25

_GIVEN_MALE = ("James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas", "Carlos",
               "Daniel", "Matthew", "Anthony", "Mark", "Steven", "Andrew", "Kevin", "Brian", "Jose", "Wei")
_GIVEN_FEMALE = ("Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah",
                 "Karen", "Lisa", "Nancy", "Maria", "Sandra", "Ashley", "Emily", "Donna", "Michelle", "Mei", "Aisha")
_FAMILY = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
           "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
           "Lee", "Perez", "Thompson", "White", "Harris", "Nguyen", "Clark", "Lewis", "Robinson", "Walker")
# (city, postal code) in Massachusetts, where Synthea's default population lives.
_CITIES = (("Boston", "02118"), ("Worcester", "01604"), ("Springfield", "01103"), ("Cambridge", "02139"),
           ("Lowell", "01852"), ("Brockton", "02301"), ("Quincy", "02169"), ("Lynn", "01902"),
           ("New Bedford", "02740"), ("Fall River", "02720"), ("Newton", "02458"), ("Somerville", "02143"),
           ("Framingham", "01702"), ("Plymouth", "02360"), ("Pittsfield", "01201"), ("Salem", "01970"))
_STREETS = ("Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Elm St", "Washington St", "Park Rd", "Hill St")

# Conditions and the order their onsets are drawn in (the order also fixes the Condition resource order).
CONDITION_KEYS = ("smoker", "obesity", "hypertension", "hyperlipidemia", "diabetes", "afib", "chd", "stroke",
                  "alzheimers")


@dataclass
class PatientProfile:
    index: int
    id: str
    sex: str  # "male" | "female"
    birth_ord: int  # proleptic Gregorian ordinal
    age: float  # years at the reference date (or at death)
    death_ord: int | None
    race: int  # index into vocab.RACES
    hispanic: bool
    marital: str  # v3 MaritalStatus code
    given: str
    family: str
    city: str
    postal_code: str
    street: str
    phone: str
    smoking: str  # never | former | current (at the end of the record)
    smoke_start_ord: int | None
    smoke_quit_ord: int | None
    height_cm: float
    bmi: float
    sbp: float  # untreated level at the end of the record
    dbp: float
    ldl: float
    hdl: float
    triglycerides: float
    hba1c: float
    small_vessel_latent: float
    # allele indices (0 = REF) of the modelled markers, by model key; APOE as its two haplotypes
    genotype: dict[str, tuple[int, int]]
    apoe: tuple[str, str]  # ("e3", "e4") etc.
    onsets: dict[str, int] = field(default_factory=dict)  # condition key -> onset ordinal
    hypertension_alt_code: bool = False
    treated: dict[str, bool] = field(default_factory=dict)
    has_genome: bool = False
    has_imaging: bool = False
    # Evaluation only (synth/oracle.py): the model's probability of having each outcome by the reference date,
    # and the age at the reference date it was drawn with (`age` becomes the age at death for the deceased).
    risk: dict[str, float] = field(default_factory=dict)
    age_at_reference: float = 0.0

    @property
    def end_ord(self) -> int:
        """Last day the record can contain: the extract date, or the day of death."""
        return self.death_ord if self.death_ord is not None else reference_ordinal()

    @property
    def record_start_ord(self) -> int:
        return max(self.birth_ord, self.end_ord - int(RECORD_YEARS * DAYS_PER_YEAR))

    def age_at(self, ordinal: int) -> float:
        return (ordinal - self.birth_ord) / DAYS_PER_YEAR

    def has(self, condition: str, by_ord: int | None = None) -> bool:
        onset = self.onsets.get(condition)
        return onset is not None and (by_ord is None or onset <= by_ord)

    @property
    def apoe_e4(self) -> int:
        return self.apoe.count("e4")

    @property
    def apoe_e2(self) -> int:
        return self.apoe.count("e2")


def patient_id(seed: int, index: int) -> str:
    return ids.stable_uuid(seed, "Patient", index)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def _linear(spec: dict[str, float], x: dict[str, float], rng: np.random.Generator) -> float:
    mean = spec["base"] + sum(c * x[k] for k, c in spec.items() if k not in ("base", "sd"))
    return mean + rng.normal(0.0, spec["sd"])


def _hwe(rng: np.random.Generator, freq: float) -> tuple[int, int]:
    return (int(rng.random() < freq), int(rng.random() < freq))


def _apoe_haplotype(rng: np.random.Generator) -> str:
    # e2 / e3 / e4 haplotype frequencies of European-ancestry populations (rs429358-rs7412: T-T, T-C, C-C).
    r = rng.random()
    return "e2" if r < 0.08 else ("e4" if r < 0.23 else "e3")


def _onset_age(rng: np.random.Generator, age: float, min_age: float) -> float:
    onset = age - rng.exponential(ONSET_MEAN_YEARS_BEFORE_EXTRACT)
    if onset < min_age:
        onset = rng.uniform(min_age, age)
    return onset


def sample_patient(seed: int, index: int, params: ModelParams) -> PatientProfile:
    rng = np.random.default_rng([seed, index, 1])
    ref = reference_ordinal()
    male = rng.random() < params.share_male
    if rng.random() < params.share_children:
        age = rng.uniform(0.3, 18.0)
    else:
        age = rng.uniform(*params.adult_age_range)
    adult = age >= 18.0
    birth_ord = ref - int(age * DAYS_PER_YEAR) - int(rng.integers(0, 2))

    race = int(rng.choice(len(RACES), p=[w for _, w in RACES]))
    hispanic = bool(rng.random() < 0.14)
    if not adult:
        marital = "S"
    else:
        r = rng.random()
        widow = min(0.35, max(0.0, (age - 60) * 0.012))
        marital = "W" if r < widow else ("M" if r < widow + 0.5 else ("D" if r < widow + 0.62 else "S"))
    given = str(rng.choice(_GIVEN_MALE if male else _GIVEN_FEMALE)) + str(int(rng.integers(100, 1000)))
    family = str(rng.choice(_FAMILY)) + str(int(rng.integers(100, 1000)))
    city, postal = _CITIES[int(rng.integers(len(_CITIES)))]
    street = f"{int(rng.integers(1, 999))} {_STREETS[int(rng.integers(len(_STREETS)))]}"
    phone = f"555-{int(rng.integers(100, 1000))}-{int(rng.integers(1000, 10000))}"

    # Genotype at the modelled markers (Hardy-Weinberg), for every patient: genomes are sequenced for some,
    # but everyone's risk depends on them.
    freqs = marker_frequencies()
    apoe = (_apoe_haplotype(rng), _apoe_haplotype(rng))
    genotype = {key: _hwe(rng, f) for key, f in freqs.items() if not key.startswith("apoe_")}
    genotype["apoe_rs429358"] = tuple(int(h == "e4") for h in apoe)
    genotype["apoe_rs7412"] = tuple(int(h == "e2") for h in apoe)
    dose = {k: float(sum(v)) for k, v in genotype.items()}
    latent = float(rng.normal())

    # Smoking
    smoking, smoke_start, smoke_quit = "never", None, None
    if age >= 16:
        p_current = params.smoking_current + (params.smoking_current_male_extra if male else 0.0)
        p_former = min(0.35, params.smoking_former_per_decade * (age - 15) / 10)
        r = rng.random()
        if r < p_current + p_former:
            start_age = rng.uniform(MIN_ONSET_AGE["smoker"], min(age, 25.0))
            smoke_start = birth_ord + int(start_age * DAYS_PER_YEAR)
            if r >= p_current:
                smoking = "former"
                quit_age = rng.uniform(start_age, age)
                smoke_quit = birth_ord + int(quit_age * DAYS_PER_YEAR)
            else:
                smoking = "current"

    height = rng.normal(176.0 if male else 163.0, 7.0 if male else 6.5)
    if not adult:
        height *= min(1.0, 0.45 + 0.55 * age / 18.0)
    x = {
        "age_minus_45": age - 45, "male": float(male), "female": float(not male),
        "age_minus_45_capped_65": min(age, 65.0) - 45,
        "apoe_e4": float(apoe.count("e4")), "apoe_e2": float(apoe.count("e2")),
        "small_vessel_latent": latent, "current_smoker": float(smoking == "current"),
        "former_smoker": float(smoking == "former"),
        **{k: v for k, v in dose.items()},
    }
    if adult:
        bmi = float(np.clip(_linear(params.bmi, x, rng), 16.0, 60.0))
    else:
        bmi = float(np.clip(rng.normal(15.5 + 0.35 * age, 2.5), 12.0, 35.0))
    x["bmi_minus_27_5"] = bmi - 27.5
    x["age_minus_50"] = age - 50
    diabetes = adult and rng.random() < params.diabetes.probability(x)
    x["diabetes"] = float(diabetes)
    if adult:
        sbp = float(np.clip(_linear(params.sbp, x, rng), 85.0, 230.0))
        x["sbp"] = sbp
        dbp = float(np.clip(params.dbp["base"] + params.dbp["per_sbp"] * sbp + params.dbp["male"] * male
                            + rng.normal(0, params.dbp["sd"]), 50.0, 130.0))
        ldl = float(np.clip(_linear(params.ldl, x, rng), 40.0, 320.0))
        hdl = float(np.clip(_linear(params.hdl, x, rng), 20.0, 120.0))
        trig = float(np.clip(_linear(params.triglycerides, x, rng), 40.0, 700.0))
    else:
        sbp = float(np.clip(rng.normal(100 + 0.8 * age, 8), 80, 140))
        dbp = float(np.clip(rng.normal(60 + 0.5 * age, 6), 40, 90))
        ldl = float(np.clip(rng.normal(90, 20), 40, 200))
        hdl = float(np.clip(rng.normal(55, 10), 25, 100))
        trig = float(np.clip(rng.normal(80, 25), 30, 300))
    hba1c = (float(np.clip(rng.normal(7.4, 1.1), 6.5, 13.0)) if diabetes
             else float(np.clip(rng.normal(5.3 + 0.006 * (age - 40) + 0.02 * (bmi - 27.5), 0.3), 4.2, 6.4)))
    x.update({"sbp_minus_130": sbp - 130, "ldl_minus_120": ldl - 120, "hdl_minus_50": hdl - 50,
              "age_minus_60": age - 60, "age_minus_65": age - 65, "age_minus_70": age - 70, "age_minus_75": age - 75})

    has: dict[str, bool] = {"smoker": smoking != "never", "diabetes": diabetes}
    has["obesity"] = adult and bmi >= params.obesity_bmi and rng.random() < params.obesity_detected
    high_bp = sbp >= params.hypertension_sbp or dbp >= params.hypertension_dbp
    has["hypertension"] = adult and rng.random() < (
        params.hypertension_detected if high_bp else params.hypertension_borderline if sbp >= 130 else 0.0)
    total = ldl + hdl + trig / 5
    high_lipids = ldl >= params.hyperlipidemia_ldl or total >= params.hyperlipidemia_total
    has["hyperlipidemia"] = adult and rng.random() < (params.hyperlipidemia_detected if high_lipids else
                                                      0.15 if ldl >= 130 else 0.0)
    has["afib"] = age >= MIN_ONSET_AGE["afib"] and rng.random() < params.afib.probability(x)
    x["afib"] = float(has["afib"])
    for outcome in ("chd", "stroke", "alzheimers"):
        has[outcome] = age >= MIN_ONSET_AGE[outcome] and rng.random() < getattr(params, outcome).probability(x)

    # The probability behind each outcome draw above, kept for the evaluation-only oracle (never rendered).
    risk = {"hypertension": float(age >= MIN_ONSET_AGE["hypertension"]) * (
        params.hypertension_detected if high_bp else params.hypertension_borderline if sbp >= 130 else 0.0)}
    for outcome in ("chd", "stroke", "alzheimers"):
        risk[outcome] = float(age >= MIN_ONSET_AGE[outcome]) * getattr(params, outcome).probability(x)
    age_at_reference = age

    onsets: dict[str, int] = {}
    for key in CONDITION_KEYS:
        if not has[key]:
            continue
        if key == "smoker":
            onsets[key] = smoke_start
            continue
        min_age = MIN_ONSET_AGE[key]
        if age < min_age:
            continue
        onset_age = _onset_age(rng, age, min_age)
        onsets[key] = min(ref, birth_ord + int(onset_age * DAYS_PER_YEAR))

    death_ord = None
    x.update({k: float(k in onsets) for k in ("stroke", "chd", "alzheimers")})
    if adult and rng.random() < params.deceased.probability(x):
        last = max([v for v in onsets.values()] + [ref - int(5 * DAYS_PER_YEAR)])
        if last < ref - 30:
            death_ord = int(rng.integers(last + 30, ref))
            age = (death_ord - birth_ord) / DAYS_PER_YEAR

    treated = {k: bool(rng.random() < params.treated_share) for k in onsets}
    return PatientProfile(
        index=index, id=patient_id(seed, index), sex="male" if male else "female", birth_ord=birth_ord, age=age,
        death_ord=death_ord, race=race, hispanic=hispanic, marital=marital, given=given, family=family, city=city,
        postal_code=postal, street=street, phone=phone, smoking=smoking, smoke_start_ord=smoke_start,
        smoke_quit_ord=smoke_quit, height_cm=float(height), bmi=bmi, sbp=sbp, dbp=dbp, ldl=ldl, hdl=hdl,
        triglycerides=trig, hba1c=hba1c, small_vessel_latent=latent, genotype=genotype, apoe=apoe,
        onsets=onsets, hypertension_alt_code=bool(rng.random() < params.hypertension_alt_code_share),
        treated=treated, risk=risk, age_at_reference=age_at_reference)
