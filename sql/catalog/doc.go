// Package catalog stores and resolves SQL schema objects — databases and tables — as
// descriptors in the system key space. Descriptors are read and written through ordinary
// transactions, so a schema change commits atomically with the statements around it; a
// node-local cache serves descriptors to statements that have not changed the schema themselves.
package catalog
