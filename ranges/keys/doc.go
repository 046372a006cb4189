// Package keys lays out Meridian's key space: the local keys a store keeps about its ranges
// and transactions, the meta records that address ranges, the system span that holds the SQL
// catalog, and the rule (Addr) that maps any key to the user key whose range owns it.
//
//	0x01 ...        local keys, never addressed directly:
//	0x01 'i' <id> ... replicated per-range state (descriptor, applied index, GC threshold)
//	0x01 'k' <anchor> 0x00 't' <txn id>  transaction records, addressed by their anchor key
//	0x01 'r' <id> ... a replica's Raft log and vote (not replicated; see package raftlog)
//	0x01 's' ...      store-local state (not replicated)
//	0x02 <end key>  meta records: the descriptor of the range that ends at <end key>
//	0x03 ...        system span (SQL catalog)
//	0x05 ...        SQL table data (package rowenc)
package keys
