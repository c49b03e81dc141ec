package assess

import (
	"slices"
	"strings"
	"unicode"

	"github.com/gatescan/gatescan/config"
)

// A report's issuer is written as its issuer pleases: "SGS", "SGS-CSTC
// Standards Technical Services Co., Ltd.", "TUV SUD", "TÜV SÜD Certification
// and Testing (China) Co., Ltd.". Names are compared as words: case,
// accents, punctuation and what is in brackets (a branch's city) set
// aside, legal-form suffixes dropped.

// legalForms are the words of company legal forms, dropped at the end
// of a name.
var legalForms = []string{"co", "company", "ltd", "limited", "inc", "incorporated", "corp", "corporation",
	"plc", "llc", "gmbh", "ag", "sa", "sas", "srl", "spa", "bv", "nv", "kg", "pte", "pty", "kk", "ab", "as", "oy"}

// descriptors are the words an agency's branch adds after its name
// ("Intertek Testing Services Shenzhen", "Bureau Veritas Consumer Products
// Services"): a name that starts with a listed one and goes on with these
// only is that agency.
var descriptors = []string{"testing", "test", "technical", "technology", "technologies", "services", "service",
	"standards", "standard", "certification", "inspection", "quality", "consumer", "products", "product",
	"commodity", "commodities", "laboratory", "laboratories", "lab", "labs", "group", "international",
	"holding", "holdings", "and", "of", "the", "china", "hong", "kong", "shanghai", "shenzhen", "guangzhou",
	"beijing", "tianjin", "qingdao", "ningbo", "xiamen", "suzhou", "hangzhou", "dongguan", "wuhan", "nanjing",
	"chengdu", "foshan", "zhongshan", "jiangsu", "zhejiang", "guangdong", "shandong", "fujian", "branch", "cstc"}

// unaccent folds the accented Latin letters of agencies' names.
var unaccent = strings.NewReplacer("ü", "u", "Ü", "U", "ö", "o", "Ö", "O", "ä", "a", "Ä", "A", "é", "e", "É", "E",
	"è", "e", "ê", "e", "ë", "e", "à", "a", "â", "a", "ç", "c", "Ç", "C", "î", "i", "ï", "i", "ô", "o", "û", "u", "ß", "ss")

// issuerWords is a name as lower-case words: accents stripped (ü → u),
// bracketed parts and punctuation dropped, legal-form suffixes dropped.
func issuerWords(s string) []string {
	var b strings.Builder
	depth := 0
	for _, r := range unaccent.Replace(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			// a combining accent
		case r == '(' || r == '[':
			depth++
			b.WriteByte(' ')
		case r == ')' || r == ']':
			depth = max(0, depth-1)
			b.WriteByte(' ')
		case depth > 0:
		case r == '&':
			b.WriteString(" and ")
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteByte(' ')
		}
	}
	w := strings.Fields(b.String())
	for len(w) > 1 && slices.Contains(legalForms, w[len(w)-1]) {
		w = w[:len(w)-1]
	}
	return w
}

// accreditedIssuer returns the listed agency a report's issuer is, if any:
// its words equal a name's or an alias's, or begin with them and go on
// with a branch's descriptors only.
func accreditedIssuer(issuer string, list []config.Issuer) (config.Issuer, bool) {
	got := issuerWords(issuer)
	if len(got) == 0 {
		return config.Issuer{}, false
	}
	for _, is := range list {
		for _, name := range append([]string{is.Name}, is.Aliases...) {
			want := issuerWords(name)
			if len(want) == 0 || len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
				continue
			}
			rest := got[len(want):]
			if !slices.ContainsFunc(rest, func(w string) bool { return !slices.Contains(descriptors, w) }) {
				return is, true
			}
		}
	}
	return config.Issuer{}, false
}
