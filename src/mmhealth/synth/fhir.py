"""FHIR R4 resources for one patient, Synthea-shaped: a Patient, a timeline of encounters, and what happens
at each (observations, conditions, procedures, medications, immunizations, reports, claims, imaging).

Pure: (profile, plans, seed) -> {resourceType: [resource dict, ...]}. Resource ids come from the patient's own
seeded generator, so they are stable for a seed and independent of other patients."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

import numpy as np

from mmhealth.synth import ids
from mmhealth.synth import vocab as v
from mmhealth.synth.imaging_plan import StudyPlan
from mmhealth.synth.model import ModelParams
from mmhealth.synth.patients import DAYS_PER_YEAR, PatientProfile

RESOURCE_TYPES = ("Patient", "Encounter", "Condition", "Observation", "Procedure", "MedicationRequest",
                  "Immunization", "DiagnosticReport", "ImagingStudy", "Claim", "Consent")
TZ = "-05:00"  # Synthea writes local times with an offset; all visits happen 08:00-18:00 local time


@functools.lru_cache(maxsize=65536)
def iso_date(ordinal: int) -> str:
    return dt.date.fromordinal(ordinal).isoformat()


def iso_dt(ordinal: int, seconds: int) -> str:
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{iso_date(ordinal)}T{h:02d}:{m:02d}:{s:02d}{TZ}"


BRAIN_CODING = {"system": v.SNOMED, "code": v.BRAIN.code, "display": v.BRAIN.display}


@functools.lru_cache(maxsize=None)
def cc(concept: v.Concept, system: str) -> dict:
    # Shared between resources (never mutated): a CodeableConcept per concept, built once.
    return {"coding": [concept.coding(system)], "text": concept.display}


def _clip(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


@dataclass
class Visit:
    ordinal: int
    seconds: int
    minutes: int
    kind: str  # wellness | diagnosis | genome | imaging
    klass: str  # AMB | EMER
    type: v.Concept
    condition: str | None = None
    id: str = ""
    condition_ids: list[str] = field(default_factory=list)
    procedures: list[v.Concept] = field(default_factory=list)
    immunizations: list[v.Concept] = field(default_factory=list)

    @functools.cached_property
    def start(self) -> str:
        return iso_dt(self.ordinal, self.seconds)

    @functools.cached_property
    def end(self) -> str:
        return iso_dt(self.ordinal, min(self.seconds + self.minutes * 60, 23 * 3600 + 59 * 60))


class _Builder:
    def __init__(self, p: PatientProfile, seed: int, params: ModelParams, study: StudyPlan | None,
                 genome_ord: int | None):
        self.p, self.params, self.study, self.genome_ord = p, params, study, genome_ord
        self.rng = np.random.default_rng([seed, p.index, 2])
        self.out: dict[str, list[dict]] = {t: [] for t in RESOURCE_TYPES}
        self.subject = {"reference": f"Patient/{p.id}", "display": f"{p.given} {p.family}"}
        self._id_pool = ""

    def new_id(self) -> str:
        # Random bytes drawn in blocks (one generator call per 256 ids), formatted as version-4 UUIDs.
        if not self._id_pool:
            self._id_pool = self.rng.bytes(16 * 256).hex()
        h, self._id_pool = self._id_pool[:32], self._id_pool[32:]
        return ids.uuid4_from_hex(h)

    # --- timeline ---------------------------------------------------------------------------------------
    def visits(self) -> list[Visit]:
        p, rng = self.p, self.rng
        visits: list[Visit] = []
        t = p.record_start_ord + int(rng.integers(0, 400))
        while t <= p.end_ord:
            child = p.age_at(t) < 18
            visits.append(Visit(t, int(rng.integers(8 * 3600, 17 * 3600)), 15 + 5 * int(rng.integers(0, 4)),
                                "wellness", "AMB", v.ENC_WELL_CHILD if child else v.ENC_WELLNESS))
            t += int(rng.integers(300, 520))
        for key, onset in p.onsets.items():
            emergency = key == "stroke"
            visit = Visit(onset, int(rng.integers(8 * 3600, 17 * 3600)), 240 if emergency else 30, "diagnosis",
                          "EMER" if emergency else "AMB",
                          v.ENC_EMERGENCY if emergency else (v.ENC_CHECK_UP if key == "smoker" else v.ENC_PROBLEM),
                          condition=key)
            if key in ("chd", "afib"):
                visit.procedures.append(v.PROC_ECG)
            if key == "chd" and rng.random() < 0.3:
                visit.procedures.append(v.PROC_PCI)
            if key == "stroke":
                visit.procedures.append(v.PROC_CT_HEAD)
            visits.append(visit)
        if self.genome_ord is not None:
            visits.append(Visit(self.genome_ord, int(rng.integers(8 * 3600, 17 * 3600)), 30, "genome", "AMB",
                                v.ENC_PROBLEM, procedures=[v.PROC_GENETIC_TEST]))
        if self.study is not None:
            s = self.study
            visits.append(Visit(s.study_ord, s.study_seconds, 45, "imaging", "AMB", v.ENC_PROBLEM,
                                procedures=[v.PROC_MRI_HEAD if s.modality == "MR" else v.PROC_CT_HEAD]))
        visits.sort(key=lambda x: (x.ordinal, x.seconds, x.kind))
        for visit in visits:
            visit.id = self.new_id()
        return visits

    # --- resources --------------------------------------------------------------------------------------
    def patient(self) -> None:
        p = self.p
        race, _ = v.RACES[p.race]
        eth = v.HISPANIC if p.hispanic else v.NOT_HISPANIC
        res = {
            "resourceType": "Patient", "id": p.id,
            "meta": {"profile": [v.US_CORE_PATIENT]},
            "extension": [
                {"url": v.US_CORE_RACE, "extension": [
                    {"url": "ombCategory", "valueCoding": race.coding(v.OMB_RACE_ETHNICITY)},
                    {"url": "text", "valueString": race.display}]},
                {"url": v.US_CORE_ETHNICITY, "extension": [
                    {"url": "ombCategory", "valueCoding": eth.coding(v.OMB_RACE_ETHNICITY)},
                    {"url": "text", "valueString": eth.display}]},
                {"url": v.US_CORE_BIRTHSEX, "valueCode": "M" if p.sex == "male" else "F"},
            ],
            "identifier": [
                {"system": v.SYNTHEA_ID, "value": p.id},
                {"type": {"coding": [{"system": v.V2_0203, "code": "MR", "display": "Medical Record Number"}],
                          "text": "Medical Record Number"},
                 "system": "http://hospital.smarthealthit.org", "value": p.id},
            ],
            "name": [{"use": "official", "family": p.family, "given": [p.given],
                      **({"prefix": ["Mr." if p.sex == "male" else "Ms."]} if p.age >= 18 else {})}],
            "telecom": [{"system": "phone", "value": p.phone, "use": "home"}],
            "gender": p.sex,
            "birthDate": iso_date(p.birth_ord),
        }
        if p.death_ord is not None:
            res["deceasedDateTime"] = iso_dt(p.death_ord, 12 * 3600)
        res["address"] = [{"line": [p.street], "city": p.city, "state": "MA", "postalCode": p.postal_code,
                           "country": "US"}]
        res["maritalStatus"] = {"coding": [{"system": v.MARITAL, "code": p.marital}], "text": p.marital}
        res["multipleBirthBoolean"] = False
        res["communication"] = [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "en-US",
                                                          "display": "English (United States)"}]}}]
        self.out["Patient"].append(res)

    def encounter(self, visit: Visit) -> None:
        res = {
            "resourceType": "Encounter", "id": visit.id, "status": "finished",
            "class": {"system": v.ACT_CODE, "code": visit.klass},
            "type": [cc(visit.type, v.SNOMED)],
            "subject": self.subject,
            "period": {"start": visit.start, "end": visit.end},
            "serviceProvider": {"display": f"{self.p.city.upper()} HEALTH CENTER"},
        }
        if visit.condition:
            res["reasonCode"] = [cc(self.condition_concept(visit.condition), v.SNOMED)]
        self.out["Encounter"].append(res)

    def condition_concept(self, key: str) -> v.Concept:
        if key == "hypertension" and self.p.hypertension_alt_code:
            return v.HYPERTENSION_ALT
        return v.CONDITIONS[key]

    def condition(self, visit: Visit) -> str:
        p, key = self.p, visit.condition
        cid = self.new_id()
        res = {
            "resourceType": "Condition", "id": cid,
            "clinicalStatus": {"coding": [{"system": v.CONDITION_CLINICAL, "code": "active"}]},
            "verificationStatus": {"coding": [{"system": v.CONDITION_VER, "code": "confirmed"}]},
            "category": [{"coding": [{"system": v.CONDITION_CATEGORY, "code": "encounter-diagnosis",
                                      "display": "Encounter Diagnosis"}]}],
            "code": cc(self.condition_concept(key), v.SNOMED),
            "subject": {"reference": f"Patient/{p.id}"},
            "encounter": {"reference": f"Encounter/{visit.id}"},
            "onsetDateTime": visit.start,
            "recordedDate": visit.start,
        }
        if key == "smoker" and p.smoke_quit_ord is not None:
            res["clinicalStatus"]["coding"][0]["code"] = "resolved"
            res["abatementDateTime"] = iso_dt(p.smoke_quit_ord, 12 * 3600)
        self.out["Condition"].append(res)
        visit.condition_ids.append(cid)
        return cid

    def observation(self, visit: Visit, concept: v.Concept, category: str, value=None, unit: str = "",
                    components=None, value_cc: dict | None = None) -> str:
        oid = self.new_id()
        res = {
            "resourceType": "Observation", "id": oid, "status": "final",
            "category": [{"coding": [{"system": v.OBS_CATEGORY, "code": category}]}],
            "code": cc(concept, v.LOINC),
            "subject": {"reference": f"Patient/{self.p.id}"},
            "encounter": {"reference": f"Encounter/{visit.id}"},
            "effectiveDateTime": visit.start,
            "issued": visit.start,
        }
        if components is not None:
            res["component"] = [{"code": cc(c, v.LOINC),
                                 "valueQuantity": {"value": val, "unit": u, "system": v.UCUM, "code": u}}
                                for c, val, u in components]
        elif value_cc is not None:
            res["valueCodeableConcept"] = value_cc
        else:
            res["valueQuantity"] = {"value": value, "unit": unit, "system": v.UCUM, "code": unit}
        self.out["Observation"].append(res)
        return oid

    # Measured values drift with age and respond to treatment after a diagnosis.
    def _treated(self, key: str, ordinal: int) -> bool:
        return self.p.has(key, ordinal) and self.p.treated.get(key, False)

    def vitals(self, visit: Visit) -> None:
        p, rng = self.p, self.rng
        age_t = p.age_at(visit.ordinal)
        years_back = age_t - p.age
        adult = age_t >= 18
        if adult:
            height = p.height_cm
            bmi = p.bmi + 0.04 * years_back + rng.normal(0, 0.5)
        else:
            height = p.height_cm * min(1.0, 0.45 + 0.55 * age_t / 18) / min(1.0, 0.45 + 0.55 * p.age / 18)
            bmi = p.bmi + 0.35 * years_back + rng.normal(0, 0.4)
        bmi = _clip(float(bmi), 11.0, 65.0)
        weight = bmi * (height / 100) ** 2
        self.observation(visit, v.HEIGHT, "vital-signs", round(float(height), 1), "cm")
        self.observation(visit, v.WEIGHT, "vital-signs", round(float(weight), 1), "kg")
        if age_t >= 2:
            self.observation(visit, v.BMI, "vital-signs", round(bmi, 1), "kg/m2")
        if age_t >= 3:
            self.blood_pressure(visit)
        if age_t >= 12:
            self.smoking_status(visit)

    def blood_pressure(self, visit: Visit) -> None:
        p, rng = self.p, self.rng
        years_back = p.age_at(visit.ordinal) - p.age
        drop = self.params.antihypertensive_sbp_drop if self._treated("hypertension", visit.ordinal) else 0.0
        sbp = p.sbp + 0.55 * years_back - drop + rng.normal(0, 7)
        dbp = p.dbp + 0.2 * years_back - drop * 0.5 + rng.normal(0, 5)
        sbp, dbp = _clip(float(sbp), 75, 240), _clip(float(dbp), 40, 140)
        self.observation(visit, v.BP_PANEL, "vital-signs",
                         components=[(v.DBP, round(dbp), "mm[Hg]"), (v.SBP, round(sbp), "mm[Hg]")])

    def smoking_status(self, visit: Visit) -> None:
        p, t = self.p, visit.ordinal
        if p.smoke_start_ord is None or t < p.smoke_start_ord:
            status = v.NEVER_SMOKER
        elif p.smoke_quit_ord is not None and t >= p.smoke_quit_ord:
            status = v.EX_SMOKER
        else:
            status = v.CURRENT_SMOKER
        self.observation(visit, v.SMOKING_STATUS, "social-history", value_cc=cc(status, v.SNOMED))

    def lipid_panel(self, visit: Visit) -> None:
        p, rng = self.p, self.rng
        years_back = p.age_at(visit.ordinal) - p.age
        drop = self.params.statin_ldl_drop if self._treated("hyperlipidemia", visit.ordinal) else 0.0
        ldl = _clip(float(p.ldl + 0.4 * min(years_back, 0) * (p.age < 65) - drop + rng.normal(0, 8)), 30, 330)
        hdl = _clip(float(p.hdl + rng.normal(0, 4)), 15, 130)
        trig = _clip(float(p.triglycerides + rng.normal(0, 15)), 30, 800)
        total = ldl + hdl + trig / 5
        ids_ = [self.observation(visit, v.TOTAL_CHOL, "laboratory", round(total, 1), "mg/dL"),
                self.observation(visit, v.TRIGLYCERIDES, "laboratory", round(trig, 1), "mg/dL"),
                self.observation(visit, v.LDL, "laboratory", round(ldl, 1), "mg/dL"),
                self.observation(visit, v.HDL, "laboratory", round(hdl, 1), "mg/dL")]
        self.report(visit, v.LIPID_PANEL, "LAB", ids_)

    def hba1c(self, visit: Visit) -> None:
        p, rng = self.p, self.rng
        if p.has("diabetes", visit.ordinal):
            value = p.hba1c - (0.5 if self._treated("diabetes", visit.ordinal) else 0.0) + rng.normal(0, 0.3)
        elif "diabetes" in p.onsets:  # the years before a diabetes diagnosis look pre-diabetic
            value = 5.9 + rng.normal(0, 0.2)
        else:
            value = p.hba1c + rng.normal(0, 0.15)
        self.observation(visit, v.HBA1C, "laboratory", round(_clip(float(value), 4.0, 14.0), 1), "%")

    def report(self, visit: Visit, concept: v.Concept, category: str, result_ids: list[str],
               conclusion: str | None = None, presented: list[dict] | None = None) -> None:
        res = {
            "resourceType": "DiagnosticReport", "id": self.new_id(), "status": "final",
            "category": [{"coding": [{"system": v.V2_0074, "code": category}]}],
            "code": cc(concept, v.LOINC),
            "subject": {"reference": f"Patient/{self.p.id}"},
            "encounter": {"reference": f"Encounter/{visit.id}"},
            "effectiveDateTime": visit.start,
            "issued": visit.start,
        }
        if result_ids:
            res["result"] = [{"reference": f"Observation/{i}"} for i in result_ids]
        if conclusion:
            res["conclusion"] = conclusion
        if presented:
            res["presentedForm"] = presented
        self.out["DiagnosticReport"].append(res)

    def procedure(self, visit: Visit, concept: v.Concept, reason: str | None) -> None:
        res = {
            "resourceType": "Procedure", "id": self.new_id(), "status": "completed",
            "code": cc(concept, v.SNOMED),
            "subject": {"reference": f"Patient/{self.p.id}"},
            "encounter": {"reference": f"Encounter/{visit.id}"},
            "performedPeriod": {"start": visit.start, "end": visit.end},
        }
        if reason:
            res["reasonReference"] = [{"reference": f"Condition/{reason}"}]
        self.out["Procedure"].append(res)

    def medication(self, visit: Visit, key: str, condition_id: str) -> None:
        p = self.p
        res = {
            "resourceType": "MedicationRequest", "id": self.new_id(),
            "status": "stopped" if p.death_ord is not None else "active", "intent": "order",
            "medicationCodeableConcept": cc(v.MEDICATIONS[key], v.RXNORM),
            "subject": {"reference": f"Patient/{p.id}"},
            "encounter": {"reference": f"Encounter/{visit.id}"},
            "authoredOn": visit.start,
            "requester": {"display": "Dr. " + p.family[:-3] + "son"},
            "reasonReference": [{"reference": f"Condition/{condition_id}"}],
            "dosageInstruction": [{"sequence": 1, "timing": {"repeat": {"frequency": 1, "period": 1.0,
                                                                        "periodUnit": "d"}},
                                   "asNeededBoolean": False}],
        }
        self.out["MedicationRequest"].append(res)

    def immunization(self, visit: Visit, concept: v.Concept) -> None:
        self.out["Immunization"].append({
            "resourceType": "Immunization", "id": self.new_id(), "status": "completed",
            "vaccineCode": cc(concept, v.CVX),
            "patient": {"reference": f"Patient/{self.p.id}"},
            "encounter": {"reference": f"Encounter/{visit.id}"},
            "occurrenceDateTime": visit.start,
            "primarySource": True,
        })
        visit.immunizations.append(concept)

    def imaging_study(self, visit: Visit) -> None:
        s = self.study
        sop_class = v.MR_SOP_CLASS if s.modality == "MR" else v.CT_SOP_CLASS
        modality = {"system": v.DCM, "code": s.modality,
                    "display": "Magnetic Resonance" if s.modality == "MR" else "Computed Tomography"}
        self.out["ImagingStudy"].append({
            "resourceType": "ImagingStudy", "id": self.new_id(),
            "identifier": [{"use": "official", "system": v.DICOM_UID_SYSTEM, "value": f"urn:oid:{s.study_uid}"}],
            "status": "available",
            "subject": {"reference": f"Patient/{self.p.id}"},
            "encounter": {"reference": f"Encounter/{visit.id}"},
            "started": visit.start,
            "modality": [modality],
            "numberOfSeries": 1,
            "numberOfInstances": s.n_instances,
            "procedureCode": [cc(visit.procedures[0], v.SNOMED)],
            "series": [{
                "uid": s.series_uid, "number": 1, "modality": modality,
                "description": "AX T2 FLAIR" if s.modality == "MR" else "AX HEAD WO CONTRAST",
                "numberOfInstances": s.n_instances,
                "bodySite": BRAIN_CODING,
                "started": visit.start,
                "instance": [{"uid": uid, "sopClass": {"system": "urn:ietf:rfc:3986", "code": f"urn:oid:{sop_class}"},
                              "number": k}
                             for k, uid in enumerate(s.sop_uids, start=1)],
            }],
        })

    def claim(self, visit: Visit) -> None:
        rng = self.rng
        items = [{"sequence": 1, "productOrService": cc(visit.type, v.SNOMED),
                  "encounter": [{"reference": f"Encounter/{visit.id}"}]}]
        for concept in visit.procedures:
            items.append({"sequence": len(items) + 1, "productOrService": cc(concept, v.SNOMED),
                          "net": {"value": round(float(rng.uniform(200, 2500)), 2), "currency": "USD"}})
        for concept in visit.immunizations:
            items.append({"sequence": len(items) + 1, "productOrService": cc(concept, v.CVX),
                          "net": {"value": 140.52, "currency": "USD"}})
        base = 704.2 if visit.klass == "EMER" else 129.16
        total = base + sum(i.get("net", {}).get("value", 0.0) for i in items)
        res = {
            "resourceType": "Claim", "id": self.new_id(), "status": "active",
            "type": {"coding": [{"system": v.CLAIM_TYPE, "code": "institutional" if visit.klass == "EMER"
                                 else "professional"}]},
            "use": "claim",
            "patient": {"reference": f"Patient/{self.p.id}"},
            "billablePeriod": {"start": visit.start, "end": visit.end},
            "created": visit.end,
            "provider": {"display": f"{self.p.city.upper()} HEALTH CENTER"},
            "priority": {"coding": [{"system": v.PROCESS_PRIORITY, "code": "normal"}]},
            "insurance": [{"sequence": 1, "focal": True,
                           "coverage": {"display": "Medicare" if self.p.age_at(visit.ordinal) >= 65
                                        else "Private insurance"}}],
        }
        if visit.condition_ids:
            res["diagnosis"] = [{"sequence": i, "diagnosisReference": {"reference": f"Condition/{c}"}}
                                for i, c in enumerate(visit.condition_ids, start=1)]
        res["item"] = items
        res["total"] = {"value": round(total, 2), "currency": "USD"}
        self.out["Claim"].append(res)

    # --- the whole record -------------------------------------------------------------------------------
    def build(self) -> dict[str, list[dict]]:
        p, rng = self.p, self.rng
        self.patient()
        last_td: int | None = None
        pneumo_done = False
        for visit in self.visits():
            self.encounter(visit)
            age_t = p.age_at(visit.ordinal)
            if visit.kind == "wellness":
                self.vitals(visit)
                if age_t >= 18:
                    lipid_p = 0.8 if p.has("hyperlipidemia", visit.ordinal) or p.has("chd", visit.ordinal) else 0.45
                    if rng.random() < lipid_p:
                        self.lipid_panel(visit)
                    a1c_p = 0.9 if p.has("diabetes", visit.ordinal) else (0.4 if age_t >= 45 else 0.15)
                    if rng.random() < a1c_p:
                        self.hba1c(visit)
                    if rng.random() < 0.3:
                        visit.procedures.append(v.PROC_MED_RECONCILIATION)
                if rng.random() < 0.55:
                    self.immunization(visit, v.FLU)
                if age_t >= 19 and (last_td is None or visit.ordinal - last_td > 10 * DAYS_PER_YEAR):
                    if rng.random() < 0.5:
                        self.immunization(visit, v.TD)
                        last_td = visit.ordinal
                if age_t >= 65 and not pneumo_done:
                    self.immunization(visit, v.PNEUMO)
                    pneumo_done = True
                if visit.ordinal >= dt.date(2021, 1, 1).toordinal() and age_t >= 12 and rng.random() < 0.3:
                    self.immunization(visit, v.COVID)
                for concept in visit.procedures:
                    self.procedure(visit, concept, None)
            elif visit.kind == "diagnosis":
                key = visit.condition
                cid = self.condition(visit)
                if key == "hypertension" or key == "stroke":
                    self.blood_pressure(visit)
                elif key == "diabetes":
                    self.hba1c(visit)
                elif key == "hyperlipidemia":
                    self.lipid_panel(visit)
                elif key == "obesity":
                    self.vitals(visit)
                for concept in visit.procedures:
                    self.procedure(visit, concept, cid)
                if key in v.MEDICATIONS and p.treated.get(key, False):
                    self.medication(visit, key, cid)
            elif visit.kind == "genome":
                for concept in visit.procedures:
                    self.procedure(visit, concept, None)
                self.report(visit, v.GENETIC_REPORT, "GE", [],
                            conclusion=f"APOE genotype {'/'.join(sorted(p.apoe))}; panel of cardiovascular and "
                                       f"neurological markers, see attached VCF.",
                            presented=[{"contentType": "text/vcf", "url": f"dna/{p.id}_dna.vcf.gz",
                                        "title": "Panel genotypes (VCF)"}])
            elif visit.kind == "imaging":
                for concept in visit.procedures:
                    self.procedure(visit, concept, None)
                self.imaging_study(visit)
            self.claim(visit)
        return self.out


def patient_resources(p: PatientProfile, seed: int, params: ModelParams, study: StudyPlan | None,
                      genome_ord: int | None) -> dict[str, list[dict]]:
    out = _Builder(p, seed, params, study, genome_ord).build()
    out["Consent"] = research_consent(p, seed, genome_ord)
    return out


# Share of patients with a recorded research consent decision, by whether they were sequenced (consent is
# usually taken with the genetic test), and the share of those decisions that are an opt-out.
CONSENT_RECORDED = {True: 0.9, False: 0.4}
CONSENT_DENIED = 0.12


def research_consent(p: PatientProfile, seed: int, genome_ord: int | None) -> list[dict]:
    """A FHIR R4 Consent (scope research) for some patients: permit or deny, dated with the genetic test or
    the first record. Its own random stream, so adding it changed none of the other resources."""
    rng = np.random.default_rng([seed, p.index, 9])
    if rng.random() >= CONSENT_RECORDED[genome_ord is not None]:
        return []
    decision = "deny" if rng.random() < CONSENT_DENIED else "permit"
    when = genome_ord if genome_ord is not None else p.record_start_ord + int(rng.integers(0, 400))
    when = min(when, p.end_ord)
    return [{
        "resourceType": "Consent", "id": ids.uuid4_from_hex(rng.bytes(16).hex()), "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "research",
                              "display": "Research"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "57016-8",
                                  "display": "Privacy policy acknowledgement Document"}]}],
        "patient": {"reference": f"Patient/{p.id}"},
        "dateTime": iso_dt(when, 9 * 3600),
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                   "code": "OPTIN" if decision == "permit" else "OPTOUT"}]},
        "provision": {"type": decision, "period": {"start": iso_date(when)}},
    }]
