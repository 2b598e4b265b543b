; CertDesk 证书助手 — the applicant's installer. build.sh runs
; makensis -DVERSION=... -DSRC=dir -DOUT=file certdesk.nsi
Unicode true
SetCompressor /SOLID lzma
RequestExecutionLevel admin

!include "MUI2.nsh"
!include "x64.nsh"
!include "LogicLib.nsh"
!include "nsDialogs.nsh"
!include "FileFunc.nsh"

!ifndef VERSION
  !define VERSION "0.0.0"
!endif
!define APP "CertDesk"
!define REGKEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\CertDesk"

Name "$(AppName)"
OutFile "${OUT}"
InstallDir "$PROGRAMFILES64\CertDesk"
; Upgrade in place: a second install finds the first one's folder.
InstallDirRegKey HKLM "Software\CertDesk" "InstallDir"
BrandingText "CertDesk ${VERSION}"
VIProductVersion "${VERSION}.0"
VIAddVersionKey /LANG=2052 "ProductName" "CertDesk 证书助手"
VIAddVersionKey /LANG=2052 "FileDescription" "CertDesk 证书助手 安装程序"
VIAddVersionKey /LANG=2052 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=2052 "CompanyName" "CertDesk"
VIAddVersionKey /LANG=2052 "LegalCopyright" "CertDesk"

!define MUI_ICON "${SRC}/certdesk.ico"
!define MUI_UNICON "${SRC}/certdesk.ico"
!define MUI_ABORTWARNING
!define MUI_FINISHPAGE_RUN "$INSTDIR\certdesk.exe"

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
UninstPage custom un.KeepDataPage un.KeepDataLeave
!insertmacro MUI_UNPAGE_INSTFILES

!insertmacro MUI_LANGUAGE "SimpChinese"
!insertmacro MUI_LANGUAGE "English"

LangString AppName ${LANG_SIMPCHINESE} "证书助手 CertDesk"
LangString AppName ${LANG_ENGLISH} "CertDesk"
LangString Shortcut ${LANG_SIMPCHINESE} "证书助手"
LangString Shortcut ${LANG_ENGLISH} "CertDesk"
LangString DiagShortcut ${LANG_SIMPCHINESE} "证书助手 自检"
LangString DiagShortcut ${LANG_ENGLISH} "CertDesk self-check"
LangString KeepData ${LANG_SIMPCHINESE} "同时删除我的申请草稿、材料和设置(%APPDATA%\CertDesk)"
LangString KeepData ${LANG_ENGLISH} "Also delete my drafts, materials and settings (%APPDATA%\CertDesk)"
LangString Need64 ${LANG_SIMPCHINESE} "证书助手需要 64 位 Windows。"
LangString Need64 ${LANG_ENGLISH} "CertDesk needs 64-bit Windows."

Function .onInit
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP "$(Need64)"
    Abort
  ${EndIf}
  SetRegView 64
  !insertmacro MUI_LANGDLL_DISPLAY
FunctionEnd

Section "CertDesk" SecMain
  SectionIn RO
  SetOutPath "$INSTDIR"
  ; A running CertDesk holds its exe: ask it to close before overwriting.
  nsExec::Exec 'taskkill /IM certdesk.exe'
  File "${SRC}/certdesk.exe"
  File "${SRC}/certdesk-preview.exe"
  File "${SRC}/certdesk.ico"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  WriteRegStr HKLM "Software\CertDesk" "InstallDir" "$INSTDIR"
  WriteRegStr HKLM "${REGKEY}" "DisplayName" "$(AppName)"
  WriteRegStr HKLM "${REGKEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${REGKEY}" "Publisher" "CertDesk"
  WriteRegStr HKLM "${REGKEY}" "DisplayIcon" "$INSTDIR\certdesk.ico"
  WriteRegStr HKLM "${REGKEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegDWORD HKLM "${REGKEY}" "NoModify" 1
  WriteRegDWORD HKLM "${REGKEY}" "NoRepair" 1
  CreateDirectory "$SMPROGRAMS\$(Shortcut)"
  CreateShortcut "$SMPROGRAMS\$(Shortcut)\$(Shortcut).lnk" "$INSTDIR\certdesk.exe" "" "$INSTDIR\certdesk.ico"
  CreateShortcut "$SMPROGRAMS\$(Shortcut)\$(DiagShortcut).lnk" "$INSTDIR\certdesk.exe" "--diag" "$INSTDIR\certdesk.ico"
  CreateShortcut "$DESKTOP\$(Shortcut).lnk" "$INSTDIR\certdesk.exe" "" "$INSTDIR\certdesk.ico"
SectionEnd

Var DeleteData
Var DeleteBox

; uninstall.exe /S /DELETEDATA removes the data too, for a silent
; uninstall (support staff, the smoke test); the page's box otherwise.
Function un.onInit
  SetRegView 64
  ${un.GetParameters} $R0
  ClearErrors
  ${un.GetOptions} $R0 "/DELETEDATA" $R1
  ${IfNot} ${Errors}
    StrCpy $DeleteData ${BST_CHECKED}
  ${EndIf}
FunctionEnd

; The uninstaller keeps the user's data unless asked: drafts and materials
; are what the applicant typed and scanned.
Function un.KeepDataPage
  nsDialogs::Create 1018
  Pop $0
  ${NSD_CreateCheckbox} 0 0 100% 24u "$(KeepData)"
  Pop $DeleteBox
  ${If} $DeleteData == ${BST_CHECKED}
    ${NSD_Check} $DeleteBox
  ${EndIf}
  nsDialogs::Show
FunctionEnd

Function un.KeepDataLeave
  ${NSD_GetState} $DeleteBox $DeleteData
FunctionEnd

Section "Uninstall"
  nsExec::Exec 'taskkill /IM certdesk.exe'
  Delete "$INSTDIR\certdesk.exe"
  Delete "$INSTDIR\certdesk-preview.exe"
  Delete "$INSTDIR\certdesk.ico"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\$(Shortcut)\$(Shortcut).lnk"
  Delete "$SMPROGRAMS\$(Shortcut)\$(DiagShortcut).lnk"
  RMDir "$SMPROGRAMS\$(Shortcut)"
  Delete "$DESKTOP\$(Shortcut).lnk"
  DeleteRegKey HKLM "${REGKEY}"
  DeleteRegKey HKLM "Software\CertDesk"
  ${If} $DeleteData == ${BST_CHECKED}
    SetShellVarContext current
    RMDir /r "$APPDATA\CertDesk"
  ${EndIf}
SectionEnd
