// Package applytest holds the example applicant of the scripted runs and
// the tests (an organisation form that passes every check). The
// applicant's exe does not import it.
package applytest

import "certdesk/app/apply"

// OrgForm returns a valid organisation form (a fresh copy each call).
func OrgForm() apply.Values {
	return apply.Values{apply.FUsername: "fzsl", apply.FOrgName: "福州示例软件有限公司", apply.FOrgCode: "91350100M000100Y43",
		apply.FOrgAddress: "福建省福州市鼓楼区五四路 100 号", apply.FHandlerName: "王堃", apply.FHandlerIDType: "resident",
		apply.FHandlerID: "11010519491231002X", apply.FHandlerMobile: "13800138000", apply.FHandlerEmail: "wang@example.com",
		apply.FSecurityQuestion: "您的出生地是?", apply.FSecurityAnswer: "福州", apply.FServiceSeal: "true", apply.FDelivery: "pickup"}
}
