/* The page's configuration (endpoints, user, service ids) and its one mutable state. */

export var CDS_BASE = "../cds-services";
export var API_BASE = "api";
export var USER_ID = "Practitioner/demo-clinician";
export var SERVICES = {
  patientView: "rair-patient-view",
  orderSelect: "rair-order-select",
  orderSign: "rair-order-sign",
};

export var state = {
  discovery: null, // {serviceId: definition}
  patient: null, // the /api/patients/<name> answer
  drafts: [], // MedicationRequest resources, status draft
  signed: [],
  cards: {}, // card uuid -> {card, serviceId, element}
  signPending: false,
  overrideFor: null,
};
