"""Regenerate src/mmhealth/views/fhir_r4.json: the FHIR R4 (4.0.1) element table the view compiler uses when it
must know a path's shape without a lake to look at (`mmhealth views compile` writes dbt models that run on lakes it
has never seen). For every resource, data type and backbone element: element name -> "Type" | "Type*" (repeating) | "type@choice".

The table is read out of SMART's fhirclient models (Apache-2.0), which are generated from the FHIR 4.0.1
StructureDefinitions (CC0). fhirclient is not a dependency of mmhealth; install it somewhere on the side:

    pip install --target /tmp/fc fhirclient==4.4.0
    PYTHONPATH=/tmp/fc .venv/bin/python scripts/gen_fhir_model.py
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "mmhealth" / "views" / "fhir_r4.json"


def main() -> None:
    import fhirclient.models as models
    from fhirclient.models import fhirabstractbase, fhirdate, fhirdatetime, fhirinstant, fhirtime, resource

    prim = {bool: "boolean", int: "integer", float: "decimal", str: "string", fhirdate.FHIRDate: "date",
            fhirdatetime.FHIRDateTime: "dateTime", fhirinstant.FHIRInstant: "instant", fhirtime.FHIRTime: "time"}
    types: dict[str, dict[str, str]] = {}
    resources: list[str] = []
    for info in pkgutil.iter_modules(models.__path__):
        module = importlib.import_module(f"fhirclient.models.{info.name}")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or not issubclass(cls, fhirabstractbase.FHIRAbstractBase):
                continue
            try:
                props = cls().elementProperties()
            except Exception:  # abstract helpers
                continue
            elements = {}
            for _name, jsname, typ, is_list, of_many, _required in props:
                tname = prim.get(typ) or typ.__name__
                if tname == "FHIRReference":
                    tname = "Reference"
                # "Type", "Type*" (repeating), "type@choice" (a choice element's typed name, e.g. valueQuantity)
                elements[jsname] = tname + ("*" if is_list else "") + (f"@{of_many}" if of_many else "")
            cname = "Reference" if name == "FHIRReference" else name
            types[cname] = elements
            if issubclass(cls, resource.Resource) and getattr(cls, "resource_type", None) == cname:
                resources.append(cname)
    OUT.write_text(json.dumps({"fhirVersion": "4.0.1", "source": "fhirclient 4.4.0 models (FHIR 4.0.1)",
                               "resources": sorted(set(resources)), "types": dict(sorted(types.items()))},
                              separators=(",", ":"), sort_keys=False) + "\n")
    print(f"{OUT}: {len(types)} types, {len(set(resources))} resources, {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()
