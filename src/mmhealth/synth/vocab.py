"""Codes the generator writes: SNOMED CT, LOINC, RxNorm, CVX, and the FHIR code systems around them.

One place for them, so the documentation, the FHIR writer and the tests agree on every code."""

from __future__ import annotations

from dataclasses import dataclass

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
UCUM = "http://unitsofmeasure.org"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VER = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
MARITAL = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
PROCESS_PRIORITY = "http://terminology.hl7.org/CodeSystem/processpriority"
OMB_RACE_ETHNICITY = "urn:oid:2.16.840.1.113883.6.238"
US_CORE_RACE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
US_CORE_ETHNICITY = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"
US_CORE_BIRTHSEX = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex"
US_CORE_PATIENT = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"
SYNTHEA_ID = "https://github.com/synthetichealth/synthea"
DICOM_UID_SYSTEM = "urn:dicom:uid"


@dataclass(frozen=True)
class Concept:
    code: str
    display: str

    def coding(self, system: str) -> dict:
        return {"system": system, "code": self.code, "display": self.display}


# --- Conditions (SNOMED CT). The four outcomes first, then the risk factors. ---
STROKE = Concept("230690007", "Cerebrovascular accident (disorder)")
CHD = Concept("53741008", "Coronary arteriosclerosis (disorder)")
ALZHEIMERS = Concept("26929004", "Alzheimer's disease (disorder)")
HYPERTENSION = Concept("59621000", "Essential hypertension (disorder)")
# Real Synthea versions code hypertension either way; a share of patients gets this one.
HYPERTENSION_ALT = Concept("38341003", "Hypertensive disorder, systemic arterial (disorder)")
HYPERLIPIDEMIA = Concept("55822004", "Hyperlipidemia (disorder)")
DIABETES = Concept("44054006", "Diabetes mellitus type 2 (disorder)")
OBESITY = Concept("162864005", "Body mass index 30+ - obesity (finding)")
AFIB = Concept("49436004", "Atrial fibrillation (disorder)")
SMOKER = Concept("449868002", "Smokes tobacco daily (finding)")

CONDITIONS = {
    "stroke": STROKE,
    "chd": CHD,
    "alzheimers": ALZHEIMERS,
    "hypertension": HYPERTENSION,
    "hyperlipidemia": HYPERLIPIDEMIA,
    "diabetes": DIABETES,
    "obesity": OBESITY,
    "afib": AFIB,
    "smoker": SMOKER,
}
OUTCOMES = ("stroke", "chd", "alzheimers", "hypertension")

# --- Encounter types (SNOMED CT) ---
ENC_WELLNESS = Concept("162673000", "General examination of patient (procedure)")
ENC_WELL_CHILD = Concept("410620009", "Well child visit (procedure)")
ENC_PROBLEM = Concept("185347001", "Encounter for problem (procedure)")
ENC_EMERGENCY = Concept("50849002", "Emergency room admission (procedure)")
ENC_FOLLOW_UP = Concept("390906007", "Follow-up encounter (procedure)")
ENC_CHECK_UP = Concept("185349003", "Encounter for check up (procedure)")

# --- Observations (LOINC) ---
BP_PANEL = Concept("85354-9", "Blood pressure panel with all children optional")
SBP = Concept("8480-6", "Systolic blood pressure")
DBP = Concept("8462-4", "Diastolic blood pressure")
BMI = Concept("39156-5", "Body mass index (BMI) [Ratio]")
WEIGHT = Concept("29463-7", "Body weight")
HEIGHT = Concept("8302-2", "Body height")
TOTAL_CHOL = Concept("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma")
LDL = Concept("18262-6", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay")
HDL = Concept("2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma")
TRIGLYCERIDES = Concept("2571-8", "Triglycerides [Mass/volume] in Serum or Plasma")
HBA1C = Concept("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood")
SMOKING_STATUS = Concept("72166-2", "Tobacco smoking status")
LIPID_PANEL = Concept("57698-3", "Lipid panel with direct LDL - Serum or Plasma")
GENETIC_REPORT = Concept("55232-3", "Genetic analysis summary panel")

NEVER_SMOKER = Concept("266919005", "Never smoked tobacco (finding)")
EX_SMOKER = Concept("8517006", "Ex-smoker (finding)")
CURRENT_SMOKER = Concept("449868002", "Smokes tobacco daily (finding)")

# --- Procedures (SNOMED CT) ---
PROC_ECG = Concept("29303009", "Electrocardiographic procedure")
PROC_PCI = Concept("415070008", "Percutaneous coronary intervention (procedure)")
PROC_CT_HEAD = Concept("303653007", "Computed tomography of head (procedure)")
PROC_MRI_HEAD = Concept("241601008", "Magnetic resonance imaging of head (procedure)")
PROC_GENETIC_TEST = Concept("405824009", "Genetic test (procedure)")
PROC_MED_RECONCILIATION = Concept("430193006", "Medication reconciliation (procedure)")

# --- Medications (RxNorm), keyed by the condition they treat ---
MEDICATIONS = {
    "hypertension": Concept("314076", "lisinopril 10 MG Oral Tablet"),
    "hyperlipidemia": Concept("312961", "Simvastatin 20 MG Oral Tablet"),
    "diabetes": Concept("860975", "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet"),
    "afib": Concept("855332", "Warfarin Sodium 5 MG Oral Tablet"),
    "chd": Concept("309362", "Clopidogrel 75 MG Oral Tablet"),
    "stroke": Concept("309362", "Clopidogrel 75 MG Oral Tablet"),
    "alzheimers": Concept("997224", "Donepezil hydrochloride 10 MG Oral Tablet"),
}

# --- Immunizations (CVX) ---
FLU = Concept("140", "Influenza, seasonal, injectable, preservative free")
TD = Concept("113", "Td (adult) preservative free")
PNEUMO = Concept("133", "Pneumococcal conjugate PCV 13")
COVID = Concept("208", "SARS-COV-2 (COVID-19) vaccine, mRNA, spike protein, LNP, preservative free, 30 mcg/0.3mL dose")

# --- Imaging ---
BRAIN = Concept("12738006", "Brain structure (body structure)")
MR_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.4"
CT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.2"

# --- US Core race / ethnicity (OMB categories) with population weights used by the generator ---
RACES = (
    (Concept("2106-3", "White"), 0.72),
    (Concept("2054-5", "Black or African American"), 0.12),
    (Concept("2028-9", "Asian"), 0.07),
    (Concept("1002-5", "American Indian or Alaska Native"), 0.01),
    (Concept("2076-8", "Native Hawaiian or Other Pacific Islander"), 0.005),
    (Concept("2131-1", "Other Race"), 0.075),
)
HISPANIC = Concept("2135-2", "Hispanic or Latino")
NOT_HISPANIC = Concept("2186-5", "Not Hispanic or Latino")
