// Package catalog stores and resolves SQL schema objects — databases and tables, with their
// owners and grants — and the roles that use them, in the system key space. They are read and
// written through ordinary transactions, so a schema or privilege change commits atomically
// with the statements around it; a node-local cache serves them to statements that have not
// changed the schema themselves, keyed by the cluster's schema version, which every such
// change bumps.
package catalog
