package deploy

import (
	"sort"
	"strings"
)

// promqlWords are the PromQL words that are not metric names when they stand
// alone: aggregation operators (which may be followed by a by/without clause
// instead of a parenthesis), binary set operators, modifiers and literals.
var promqlWords = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true,
	"and": true, "or": true, "unless": true, "atan2": true,
	"offset": true, "bool": true, "inf": true, "nan": true,
}

// labelListWords are followed by a parenthesised list of label names.
var labelListWords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// MetricNames returns the metric names that a PromQL expression selects,
// sorted and without duplicates. It is a lexer, not a parser: it skips
// strings, label matchers ({...}), ranges ([...]), numbers and durations,
// function calls, keywords and label lists, and keeps every other
// identifier. Prometheus itself reports syntax errors (CheckDashboard runs
// every query), so MetricNames need not. A selector written only as
// {__name__="..."} is not seen.
func MetricNames(expr string) []string {
	seen := map[string]bool{}
	s := expr
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(s, i)
		case c == '{':
			i = skipTo(s, i, '}')
		case c == '[':
			i = skipTo(s, i, ']')
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case isDigit(c) || (c == '.' && i+1 < len(s) && isDigit(s[i+1])):
			for i < len(s) && (isIdentChar(s[i]) || s[i] == '.') {
				i++
			}
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			word := s[i:j]
			next := j
			for next < len(s) && isSpace(s[next]) {
				next++
			}
			paren := next < len(s) && s[next] == '('
			lower := strings.ToLower(word)
			switch {
			case labelListWords[lower] && paren:
				j = skipTo(s, next, ')')
			case paren, promqlWords[lower]:
				// a function call or a keyword
			default:
				seen[word] = true
			}
			i = j
		default:
			i++
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// skipString returns the index after the string literal starting at i.
// Backquoted strings have no escapes.
func skipString(s string, i int) int {
	q := s[i]
	for i++; i < len(s); i++ {
		switch {
		case s[i] == '\\' && q != '`':
			i++
		case s[i] == q:
			return i + 1
		}
	}
	return len(s)
}

// skipTo returns the index after the first close at or after i that is not
// inside a string literal.
func skipTo(s string, i int, close byte) int {
	for i++; i < len(s); {
		switch s[i] {
		case '"', '\'', '`':
			i = skipString(s, i)
		case close:
			return i + 1
		default:
			i++
		}
	}
	return len(s)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}
func isIdentChar(c byte) bool { return isIdentStart(c) || isDigit(c) }
