"""The prediction API component: preprocessing Lambda, REST API ``POST /predict``, usage plan."""
