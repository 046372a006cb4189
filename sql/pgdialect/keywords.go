package pgdialect

import "strings"

// tidbReserved lists the words tidb's grammar reserves (parser.Keywords with Reserved set).
// An unquoted one of these where PostgreSQL sees a plain name makes tidb fail or, worse, read
// something else, so the emitter quotes such words where it can tell they are names.
var tidbReserved = wordSet(`add all alter analyze and array as asc between bigint binary blob both
by call cascade case change char character check collate column constraint continue convert create
cross cume_dist current_date current_role current_time current_timestamp current_user cursor
database databases day_hour day_microsecond day_minute day_second decimal default delayed delete
dense_rank desc describe distinct distinctrow div double drop dual else elseif enclosed escaped
except exists exit explain false fetch first_value float float4 float8 for force foreign from
fulltext generated grant group groups having high_priority hour_microsecond hour_minute hour_second
if ignore ilike in index infile inner inout insert int int1 int2 int3 int4 int8 integer intersect
interval into is iterate join key keys kill lag last_value lateral lead leading leave left like
limit linear lines load localtime localtimestamp lock long longblob longtext low_priority match
maxvalue mediumblob mediumint mediumtext middleint minute_microsecond minute_second mod natural not
no_write_to_binlog nth_value ntile null numeric of on optimize option optionally or order out outer
outfile over partition percent_rank precision primary procedure range rank read real recursive
references regexp release rename repeat replace require restrict revoke right rlike row rows
row_number second_microsecond select set show smallint spatial sql sqlexception sqlstate
sqlwarning sql_big_result sql_calc_found_rows sql_small_result ssl starting stored straight_join
table tablesample terminated then tidb_current_tso tinyblob tinyint tinytext to trailing trigger
true union unique unlock unsigned until update usage use using utc_date utc_time utc_timestamp
values varbinary varchar varcharacter varying virtual when where while window with write xor
year_month zerofill`)

// pgSyntaxWords are the tidb-reserved words PostgreSQL also reserves (fully, or as type or
// function names): unquoted, they are always syntax in PostgreSQL and are never quoted.
var pgSyntaxWords = wordSet(`all analyze and array as asc binary both case cast check collate
column constraint create cross current_date current_role current_time current_timestamp
current_user default desc distinct else except false fetch for foreign from grant group having
ilike in inner intersect into is join lateral leading left like limit localtime localtimestamp
natural not null on or order primary references right select table tablesample then to trailing
true union unique using when where window with`)

// mysqlOnlyWords are tidb-reserved words that are not PostgreSQL syntax anywhere Meridian
// accepts: unquoted, they can only be names (or, before "(", function names).
var mysqlOnlyWords = wordSet(`change convert databases delayed describe distinctrow div dual elseif
enclosed escaped exit force fulltext high_priority ignore infile iterate keys kill leave linear
lines load long longblob longtext low_priority maxvalue mediumblob mediumint mediumtext middleint
mod no_write_to_binlog optimize optionally outfile regexp repeat require rlike spatial
sqlexception sqlstate sqlwarning sql_big_result sql_calc_found_rows sql_small_result ssl starting
straight_join terminated tidb_current_tso tinyblob tinyint tinytext unlock unsigned until use
usage utc_date utc_time utc_timestamp varbinary varcharacter while xor year_month zerofill
day_hour day_microsecond day_minute day_second hour_microsecond hour_minute hour_second
minute_microsecond minute_second second_microsecond cume_dist dense_rank first_value last_value
lag lead nth_value ntile percent_rank rank row_number int1 int2 int3 int4 int8 float4 float8`)

// operandBefore are tokens after which a word starts an operand; operandAfter are tokens
// that may follow an operand. A reserved word between the two is a column reference.
var (
	operandBeforeOps = wordSet(`, ( = < > <= >= <> != + - * / % ||`)
	operandBeforeKws = wordSet(`select where and or not on by set when then else distinct having returning`)
	operandAfterOps  = wordSet(`, ) = < > <= >= <> != + - * / % ||`)
	operandAfterKws  = wordSet(`from as is and or asc desc in like ilike not where group order limit
offset having returning nulls then when else end`)
	// notOperands are reserved words that start syntax (VALUES lists, row constructors,
	// subqueries) even between such tokens.
	notOperands = wordSet(`between exists values interval row`)
)

func wordSet(words string) map[string]bool {
	m := make(map[string]bool)
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}
