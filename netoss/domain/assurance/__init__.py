"""Service assurance: what Prometheus measures of the network and of each customer service
(targets and labels from NetBox, snmp_exporter's modules, thresholds as code rendered into
alerting rules, SLA state from Prometheus' answers). Pure where it can be; docs/assurance.md."""
