"""STIX 2.1 vocabularies (§10): open vocabularies (`*-ov`) and closed enumerations (`*-enum`).

A value outside an open vocabulary is allowed (§2.14) and only reported by `lint`; a value
outside an enumeration is an error (§2.4).
"""

from __future__ import annotations

__all__ = [
    "ACCOUNT_TYPE_OV",
    "ATTACK_MOTIVATION_OV",
    "ATTACK_RESOURCE_LEVEL_OV",
    "ENCRYPTION_ALGORITHM_ENUM",
    "EXTENSION_TYPE_ENUM",
    "GROUPING_CONTEXT_OV",
    "HASH_ALGORITHM_OV",
    "IDENTITY_CLASS_OV",
    "IMPLEMENTATION_LANGUAGE_OV",
    "INDICATOR_TYPE_OV",
    "INDUSTRY_SECTOR_OV",
    "INFRASTRUCTURE_TYPE_OV",
    "MALWARE_CAPABILITIES_OV",
    "MALWARE_RESULT_OV",
    "MALWARE_TYPE_OV",
    "NETWORK_SOCKET_ADDRESS_FAMILY_ENUM",
    "NETWORK_SOCKET_TYPE_ENUM",
    "OPINION_ENUM",
    "PATTERN_TYPE_OV",
    "PROCESSOR_ARCHITECTURE_OV",
    "REGION_OV",
    "REPORT_TYPE_OV",
    "THREAT_ACTOR_ROLE_OV",
    "THREAT_ACTOR_SOPHISTICATION_OV",
    "THREAT_ACTOR_TYPE_OV",
    "TOOL_TYPE_OV",
    "WINDOWS_INTEGRITY_LEVEL_ENUM",
    "WINDOWS_PEBINARY_TYPE_OV",
    "WINDOWS_REGISTRY_DATATYPE_ENUM",
    "WINDOWS_SERVICE_START_TYPE_ENUM",
    "WINDOWS_SERVICE_STATUS_ENUM",
    "WINDOWS_SERVICE_TYPE_ENUM",
]


def _terms(text: str) -> frozenset[str]:
    return frozenset(text.split())


# §10.1
ACCOUNT_TYPE_OV = _terms(
    "facebook ldap nis openid radius skype tacacs twitter unix windows-local windows-domain"
)
# §10.2
ATTACK_MOTIVATION_OV = _terms(
    "accidental coercion dominance ideology notoriety organizational-gain personal-gain "
    "personal-satisfaction revenge unpredictable"
)
# §10.3
ATTACK_RESOURCE_LEVEL_OV = _terms("individual club contest team organization government")
# §10.4
ENCRYPTION_ALGORITHM_ENUM = _terms("AES-256-GCM ChaCha20-Poly1305 mime-type-indicated")
# §10.5
EXTENSION_TYPE_ENUM = _terms(
    "new-sdo new-sco new-sro property-extension toplevel-property-extension"
)
# §10.6
GROUPING_CONTEXT_OV = _terms("suspicious-activity malware-analysis unspecified")
# §10.7
HASH_ALGORITHM_OV = _terms("MD5 SHA-1 SHA-256 SHA-512 SHA3-256 SHA3-512 SSDEEP TLSH")
# §10.8
IDENTITY_CLASS_OV = _terms("individual group system organization class unknown")
# §10.9
IMPLEMENTATION_LANGUAGE_OV = _terms(
    "applescript bash c c++ c# go java javascript lua objective-c perl php powershell python "
    "ruby scala swift typescript visual-basic x86-32 x86-64"
)
# §10.10
INDICATOR_TYPE_OV = _terms(
    "anomalous-activity anonymization benign compromised malicious-activity attribution unknown"
)
# §10.11
INDUSTRY_SECTOR_OV = _terms(
    "agriculture aerospace automotive chemical commercial communications construction defense "
    "education energy engineering entertainment financial-services government "
    "emergency-services government-local government-national government-public-services "
    "government-regional healthcare hospitality-leisure infrastructure dams nuclear water "
    "insurance manufacturing mining non-profit pharmaceuticals retail technology "
    "telecommunications transportation utilities"
)
# §10.12
INFRASTRUCTURE_TYPE_OV = _terms(
    "amplification anonymization botnet command-and-control exfiltration hosting-malware "
    "hosting-target-lists phishing reconnaissance staging unknown"
)
# §10.13
MALWARE_CAPABILITIES_OV = _terms(
    "accesses-remote-machines anti-debugging anti-disassembly anti-emulation "
    "anti-memory-forensics anti-sandbox anti-vm captures-input-peripherals "
    "captures-output-peripherals captures-system-state-data cleans-traces-of-infection "
    "commits-fraud communicates-with-c2 compromises-data-availability "
    "compromises-data-integrity compromises-system-availability controls-local-machine "
    "degrades-security-software degrades-system-updates determines-c2-server emails-spam "
    "escalates-privileges evades-av exfiltrates-data fingerprints-host hides-artifacts "
    "hides-executing-code infects-files infects-remote-machines installs-other-components "
    "persists-after-system-reboot prevents-artifact-access prevents-artifact-deletion "
    "probes-network-environment self-modifies steals-authentication-credentials "
    "violates-system-operational-integrity"
)
# §10.14
MALWARE_RESULT_OV = _terms("malicious suspicious benign unknown")
# §10.15
MALWARE_TYPE_OV = _terms(
    "adware backdoor bot bootkit ddos downloader dropper exploit-kit keylogger ransomware "
    "remote-access-trojan resource-exploitation rogue-security-software rootkit screen-capture "
    "spyware trojan unknown virus webshell wiper worm"
)
# §10.16
NETWORK_SOCKET_ADDRESS_FAMILY_ENUM = _terms(
    "AF_UNSPEC AF_INET AF_IPX AF_APPLETALK AF_NETBIOS AF_INET6 AF_IRDA AF_BTH"
)
# §10.17
NETWORK_SOCKET_TYPE_ENUM = _terms("SOCK_STREAM SOCK_DGRAM SOCK_RAW SOCK_RDM SOCK_SEQPACKET")
# §10.18
OPINION_ENUM = _terms("strongly-disagree disagree neutral agree strongly-agree")
# §10.19
PATTERN_TYPE_OV = _terms("stix pcre sigma snort suricata yara")
# §10.20
PROCESSOR_ARCHITECTURE_OV = _terms("alpha arm ia-64 mips powerpc sparc x86 x86-64")
# §10.21
REGION_OV = _terms(
    "africa eastern-africa middle-africa northern-africa southern-africa western-africa "
    "americas caribbean central-america latin-america-caribbean northern-america "
    "south-america asia central-asia eastern-asia southern-asia south-eastern-asia "
    "western-asia europe eastern-europe northern-europe southern-europe western-europe "
    "oceania antarctica australia-new-zealand melanesia micronesia polynesia"
)
# §10.22
REPORT_TYPE_OV = _terms(
    "attack-pattern campaign identity indicator intrusion-set malware observed-data "
    "threat-actor threat-report tool vulnerability"
)
# §10.23
THREAT_ACTOR_TYPE_OV = _terms(
    "activist competitor crime-syndicate criminal hacker insider-accidental insider-disgruntled "
    "nation-state sensationalist spy terrorist unknown"
)
# §10.24
THREAT_ACTOR_ROLE_OV = _terms(
    "agent director independent infrastructure-architect infrastructure-operator "
    "malware-author sponsor"
)
# §10.25
THREAT_ACTOR_SOPHISTICATION_OV = _terms(
    "none minimal intermediate advanced expert innovator strategic"
)
# §10.26
TOOL_TYPE_OV = _terms(
    "denial-of-service exploitation information-gathering network-capture "
    "credential-exploitation remote-access vulnerability-scanning unknown"
)
# §10.27
WINDOWS_INTEGRITY_LEVEL_ENUM = _terms("low medium high system")
# §10.28
WINDOWS_PEBINARY_TYPE_OV = _terms("dll exe sys")
# §10.29
WINDOWS_REGISTRY_DATATYPE_ENUM = _terms(
    "REG_NONE REG_SZ REG_EXPAND_SZ REG_BINARY REG_DWORD REG_DWORD_BIG_ENDIAN "
    "REG_DWORD_LITTLE_ENDIAN REG_LINK REG_MULTI_SZ REG_RESOURCE_LIST "
    "REG_FULL_RESOURCE_DESCRIPTION REG_RESOURCE_REQUIREMENTS_LIST REG_QWORD REG_INVALID_TYPE"
)
# §10.30
WINDOWS_SERVICE_START_TYPE_ENUM = _terms(
    "SERVICE_AUTO_START SERVICE_BOOT_START SERVICE_DEMAND_START SERVICE_DISABLED "
    "SERVICE_SYSTEM_ALERT"
)
# §10.31
WINDOWS_SERVICE_TYPE_ENUM = _terms(
    "SERVICE_KERNEL_DRIVER SERVICE_FILE_SYSTEM_DRIVER SERVICE_WIN32_OWN_PROCESS "
    "SERVICE_WIN32_SHARE_PROCESS"
)
# §10.32
WINDOWS_SERVICE_STATUS_ENUM = _terms(
    "SERVICE_CONTINUE_PENDING SERVICE_PAUSE_PENDING SERVICE_PAUSED SERVICE_RUNNING "
    "SERVICE_START_PENDING SERVICE_STOP_PENDING SERVICE_STOPPED"
)
