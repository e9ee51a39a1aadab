"""The order-select and order-sign hooks: draft orders, order cards, the select-to-sign alert
cache."""
