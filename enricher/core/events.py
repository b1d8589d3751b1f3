"""The normalized event every parser produces and every rule reads.

One shape for all three sources so that identity resolution and the verdict rules never look at
source-specific fields. Canonical action and resource strings follow SPEC §5:

- aws:  action ``s3:GetObject`` (IAM action names), resource an ARN or ``*``
- k8s:  action the verb, resource ``NAMESPACE/GROUP/RESOURCE[/SUBRESOURCE]/NAME``
        (``_cluster`` for cluster-scoped objects, ``core`` for the core group)
- mesh: action the HTTP method or ``TCP``, resource ``DESTINATION_HOST/PATH``
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

Source = Literal["cloudtrail", "k8s_audit", "mesh"]
System = Literal["aws", "k8s", "mesh"]
Outcome = Literal["success", "denied", "error"]

SOURCES: Final = ("cloudtrail", "k8s_audit", "mesh")
SYSTEM_OF_SOURCE: Final[dict[str, System]] = {"cloudtrail": "aws", "k8s_audit": "k8s", "mesh": "mesh"}

# Principal kinds: what the raw actor is, before it is resolved against the baseline.
# Identity resolution decides scope from these (SPEC §4).
AWS_ROLE: Final = "aws_role"  # AssumedRole session; principal = issuing role ARN
AWS_USER: Final = "aws_user"  # IAMUser; principal = user ARN
AWS_SERVICE: Final = "aws_service"  # AWSService (invokedBy)
AWS_ROOT: Final = "aws_root"
AWS_SSO: Final = "aws_sso"  # IdentityCenterUser, and AWSReservedSSO_* role sessions
AWS_OTHER: Final = "aws_other"  # FederatedUser, WebIdentityUser, SAMLUser, AWSAccount, Unknown, missing
K8S_SERVICE_ACCOUNT: Final = "k8s_service_account"  # system:serviceaccount:NS:SA
K8S_USER: Final = "k8s_user"  # people and everything else
K8S_SYSTEM: Final = "k8s_system"  # system:node:*, system:kube-*, system:apiserver, system:anonymous
SPIFFE: Final = "spiffe"  # mesh peer identity; principal = spiffe://TD/ns/NS/sa/SA
UNATTRIBUTED: Final = "unattributed"  # mesh line without a peer identity


@dataclass(frozen=True, slots=True)
class AccessChange:
    """An event that changes the access model (drift): what kind of change, and whose access.

    ``category`` is a short code (``iam_policy``, ``iam_trust_policy``, ``access_key``,
    ``login_profile``, ``rbac``, ``sa_token``, ``mesh_policy``); ``target`` names the identity or
    object whose access changed (a role/user ARN, ``ns/group/resource/name``) so it can be
    resolved to an identity through the baseline's aliases.
    """

    category: str
    target: str


@dataclass(frozen=True, slots=True)
class IdentityLink:
    """The event hands out a credential: the actor assumes ``role`` (a role ARN).

    ``subject`` is the web-identity subject for ``AssumeRoleWithWebIdentity``
    (``system:serviceaccount:NS:SA`` for EKS IRSA); ``session_key`` is what later events of the
    new session carry (the temporary access key id, or the assumed-role session ARN), so that the
    pipeline can attach ``via`` to them.
    """

    role: str
    subject: str | None = None
    session_keys: tuple[str, ...] = ()


@dataclass(slots=True)
class NormalizedEvent:
    """One runtime event, source-independent; built once per record by a parser, never changed after.

    Not ``frozen``: a frozen dataclass assigns every field through ``object.__setattr__``, which
    made building this 25-field record 1.4-1.8x slower on the hot path (see docs/performance.md).
    Nothing in the project mutates an event; treat it as immutable.
    """

    source: str
    system: str
    event_id: str
    time: datetime  # aware, UTC
    principal: str  # the lookup key: role ARN, user ARN, k8s username, SPIFFE id, or ""
    principal_kind: str
    raw_principal: str  # the actor as the log shows it (assumed-role session ARN, ...)
    action: str
    resource: str
    outcome: str
    session: str | None = None  # role session name, k8s credential id ...
    session_key: str | None = None  # access key id / session ARN: joins IRSA links (see IdentityLink)
    via: tuple[str, ...] = ()  # impersonators, chained callers
    account: str | None = None  # CloudTrail recipientAccountId
    region: str | None = None
    cluster: str | None = None
    namespace: str | None = None  # k8s namespace, or the mesh destination namespace
    source_ip: str | None = None
    user_agent: str | None = None
    change: AccessChange | None = None
    link: IdentityLink | None = None
    error_code: str | None = None  # CloudTrail errorCode, k8s status reason, mesh response details
    boundary: str = ""  # AWS account, k8s namespace or ``_cluster``, mesh destination host


@dataclass(frozen=True, slots=True)
class Skipped:
    """A valid record that yields no verdict by design (CloudTrail digest, non-final k8s stage)."""

    reason: str  # ``cloudtrail_digest``, ``k8s_stage_requestreceived``, ...
