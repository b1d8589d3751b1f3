"""CloudTrail sample records: the AWS side of the scenario (see ``events.EXPECTED_OUTCOMES``).

AssumedRole sessions with their sessionIssuer, an IAMUser with a long-lived key, EKS IRSA web
identity exchanges, S3 data events with ``resources``, DynamoDB, KMS, Secrets Manager, Bedrock, ECR,
STS and IAM calls; one ``{"Records": [...]}`` log-file body and one EventBridge envelope.
"""

from __future__ import annotations

from typing import Any, Final

from enricher.samples._scenario import DAY, PROD, REGION, TOOLS, Record, Round, sample

OIDC: Final = "oidc.eks.us-east-1.amazonaws.com/id/5C2F8A0D9E7B41C6A3F0B8E2D4C61A97"
KMS_KEY: Final = f"arn:aws:kms:{REGION}:{PROD}:key/0f3c2a8e-1b7d-4c55-9a4e-2d6f8b1c7e90"
DB_SECRET: Final = f"arn:aws:secretsmanager:{REGION}:{PROD}:secret:payments/db-Q1w2E3"
JAVA_SDK: Final = (
    "aws-sdk-java/2.25.11 Linux/6.1.79-99.167.amzn2023.x86_64 OpenJDK_64-Bit_Server_VM/21.0.2+13-LTS"
)
AWS_CLI: Final = "aws-cli/2.15.30 Python/3.11.8 Darwin/23.3.0 exe/x86_64 prompt/off"
GO_SDK: Final = "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/sts#1.30.3"
BOTO: Final = "Boto3/1.34.144 md/Botocore#1.34.144 ua/2.0 os/linux#6.1.79 md/arch#x86_64 lang/python#3.12.4"
NODE_SDK: Final = (
    "aws-sdk-js/3.621.0 ua/2.0 os/linux#6.5.0-1025-azure lang/js md/nodejs#20.16.0 api/ecr#3.621.0"
)


def _role(account: str, role: str, session: str, key: str, role_id: str, path: str = "") -> Record:
    """An ``AssumedRole`` userIdentity with its sessionIssuer."""
    return {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
        "accountId": account,
        "accessKeyId": key,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id,
                "arn": f"arn:aws:iam::{account}:role/{path}{role}",
                "accountId": account,
                "userName": role,
            },
            "attributes": {"creationDate": f"{DAY}T08:00:11Z", "mfaAuthenticated": "false"},
        },
    }


def _payments(r: Round) -> Record:
    return _role(
        PROD, "payments-api", "eks-prod-payments-7d9f8c6b5f-x2x9q", r.key("payments"), "AROARZ7KCVJ2PAYMNT5QX"
    )


def _agent(r: Round) -> Record:
    return _role(PROD, "support-agent", "support-agent-5b7c9d-8kx2m", r.key("agent"), "AROARZ7KCVJ2SUPAGT1ZC")


def _deployer(r: Round) -> Record:
    return _role(TOOLS, "github-actions-deploy", "GitHubActions", r.key("deployer"), "AROAW4NQ8XK3GHADEPL9Y")


def _breakglass(r: Round) -> Record:
    return _role(PROD, "db-breakglass", "alice-INC-4242", r.key("breakglass"), "AROARZ7KCVJ2BRKGLS7TQ")


def _ct(
    r: Round,
    name: str,
    call: str,
    clock: str,
    who: Record,
    params: Record | None,
    ip: str,
    agent: str,
    **extra: Any,
) -> Record:
    """One CloudTrail record for ``call`` (``service:EventName``); ``extra`` adds or overrides top-level
    fields (resources, errorCode, recipientAccountId ...)."""
    service, _, event = call.partition(":")
    record: Record = {
        "eventVersion": "1.10",
        "userIdentity": who,
        "eventTime": r.at(clock),
        "eventSource": f"{service}.amazonaws.com",
        "eventName": event,
        "awsRegion": REGION,
        "sourceIPAddress": ip,
        "userAgent": agent,
        "requestParameters": params,
        "responseElements": None,
        "requestID": r.uid(f"{name}:request"),
        "eventID": r.uid(name),
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": PROD,
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": f"{service}.{REGION}.amazonaws.com",
        },
    }
    record.update(extra)
    return record


def _s3(r: Round, name: str, event: str, clock: str, who: Record, object_arn: str, **extra: Any) -> Record:
    """An S3 data event on ``bucket/key`` (or a bucket listing for ``bucket``), with the ``resources``
    list CloudTrail writes for data events. ``owner`` is the bucket's account (the trail it lands in)."""
    bucket, _, key = object_arn.partition("/")
    params: Record = {"bucketName": bucket, "Host": f"{bucket}.s3.{REGION}.amazonaws.com"}
    resources: list[Record] = []
    if key:
        params["key"] = key
        resources.append({"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"})
    else:
        params.update({"list-type": "2", "prefix": f"{DAY.replace('-', '/')}/", "max-keys": "1000"})
    owner = extra.pop("owner", PROD)
    resources.append({"accountId": owner, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"})
    ip = extra.pop("ip", "10.42.3.21")
    agent = extra.pop("agent", JAVA_SDK)
    details = {
        "SignatureVersion": "SigV4",
        "CipherSuite": "TLS_AES_128_GCM_SHA256",
        "bytesTransferredIn": 0,
        "AuthenticationMethod": "AuthHeader",
        "bytesTransferredOut": 18432 if event == "GetObject" else 0,
    }
    return _ct(
        r, name, f"s3:{event}", clock, who, params, ip, agent, resources=resources,
        readOnly=event.startswith(("Get", "List")), managementEvent=False, eventCategory="Data",
        recipientAccountId=owner, additionalEventData=details,
    )  # fmt: skip


def _denied(who: Record, action: str, resource: str, why: str) -> dict[str, str]:
    """The errorCode/errorMessage pair of an IAM refusal."""
    return {
        "errorCode": "AccessDeniedException",
        "errorMessage": f"User: {who['arn']} is not authorized to perform: {action} on {resource} "
        f"because {why}",
    }


@sample("ct-payments-s3-log-file", "cloudtrail")
def _payments_log_file(r: Round) -> Record:
    # A CloudTrail log file body as S3 delivers it: receipts read and listed (approved), and one
    # receipt deleted, which payments-api was never approved for.
    n = "ct-payments-s3-log-file"
    who = _payments(r)
    return {
        "Records": [
            _s3(r, f"{n}:get", "GetObject", "10:02:13", who, "receipts-prod/2026/03/02/rcpt-81723.json"),
            _s3(r, f"{n}:list", "ListObjects", "10:02:14", who, "receipts-prod"),
            _s3(
                r, f"{n}:delete", "DeleteObject", "10:02:19", who, "receipts-prod/2026/02/11/rcpt-40017.json"
            ),
        ]
    }


@sample("ct-payments-query-orders", "cloudtrail")
def _payments_query(r: Round) -> Record:
    table = f"arn:aws:dynamodb:{REGION}:{PROD}:table/orders"
    params = {"tableName": "orders", "keyConditionExpression": "customer_id = :c", "limit": 25}
    return _ct(
        r, "ct-payments-query-orders", "dynamodb:Query", "10:02:15", _payments(r), params, "10.42.3.21",
        JAVA_SDK,
        resources=[{"accountId": PROD, "type": "AWS::DynamoDB::Table", "ARN": table}],
        managementEvent=False, eventCategory="Data",
    )  # fmt: skip


@sample("ct-payments-kms-denied", "cloudtrail")
def _payments_kms_denied(r: Round) -> Record:
    # Approved in the baseline, refused by the key policy: someone edited the key policy.
    who = _payments(r)
    context = {"aws:s3:arn": "arn:aws:s3:::receipts-prod/2026/03/02/rcpt-81730.json"}
    params = {"keyId": KMS_KEY, "encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": context}
    refusal = _denied(who, "kms:Decrypt", "this resource", "no resource-based policies allow access")
    return _ct(
        r, "ct-payments-kms-denied", "kms:Decrypt", "10:03:40", who, params, "10.42.3.21", JAVA_SDK,
        resources=[{"accountId": PROD, "type": "AWS::KMS::Key", "ARN": KMS_KEY}], **refusal,
    )  # fmt: skip


@sample("ct-payments-cross-account-read", "cloudtrail")
def _payments_cross_account(r: Round) -> Record:
    # The bucket belongs to the CI/tooling account: the event lands in that account's trail.
    return _s3(
        r, "ct-payments-cross-account-read", "GetObject", "10:05:02", _payments(r),
        "ci-artifacts-444455556666/payments-api/v2.14.0/migrations.tar.gz", owner=TOOLS,
    )  # fmt: skip


def _irsa(r: Round, name: str, clock: str, service_account: str, role: str, ip: str) -> Record:
    """EKS IRSA: a pod's projected token for ``NS:SA`` exchanged for a session of ``role``."""
    subject = f"system:serviceaccount:{service_account}"
    provider = f"arn:aws:iam::{PROD}:oidc-provider/{OIDC}"
    role_arn = f"arn:aws:iam::{PROD}:role/{role}"
    session = _irsa_session(r, name, service_account)
    who = {
        "type": "WebIdentityUser",
        "principalId": f"{provider}:sts.amazonaws.com:{subject}",
        "userName": subject,
        "identityProvider": provider,
    }
    response = {
        "credentials": {
            "accessKeyId": r.key(name),
            "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN",
            "expiration": "Mar 2, 2026, 11:00:00 AM",
        },
        "subjectFromWebIdentityToken": subject,
        "assumedRoleUser": {
            "assumedRoleId": f"AROARZ7KCVJ2{role[:4].upper()}IRSA:{session}",
            "arn": f"arn:aws:sts::{PROD}:assumed-role/{role}/{session}",
        },
        "provider": provider,
        "audience": "sts.amazonaws.com",
    }
    params = {"roleArn": role_arn, "roleSessionName": session, "durationSeconds": 3600}
    return _ct(
        r, name, "sts:AssumeRoleWithWebIdentity", clock, who, params, ip, GO_SDK, responseElements=response,
        resources=[{"accountId": PROD, "type": "AWS::IAM::Role", "ARN": role_arn}],
        additionalEventData={"identityProviderConnectionVerificationMethod": "IAMTrustStore"},
    )  # fmt: skip


def _irsa_session(r: Round, name: str, service_account: str) -> str:
    return f"{service_account.partition(':')[2]}-{r.key(name, 'AROA')[4:14].lower()}"


@sample("ct-fluent-bit-irsa", "cloudtrail")
def _fluent_bit_irsa(r: Round) -> Record:
    return _irsa(r, "ct-fluent-bit-irsa", "10:00:01", "logging:fluent-bit", "fluent-bit-irsa", "10.42.7.31")


@sample("ct-external-secrets-irsa", "cloudtrail")
def _external_secrets_irsa(r: Round) -> Record:
    return _irsa(
        r, "ct-external-secrets-irsa", "10:00:30", "external-secrets:external-secrets",
        "external-secrets-irsa", "10.42.1.8",
    )  # fmt: skip


@sample("ct-external-secrets-get-secret", "cloudtrail")
def _external_secrets_read(r: Round) -> Record:
    # Made with the IRSA session's credentials: the verdict names the service account in `via`.
    link = "ct-external-secrets-irsa"
    session = _irsa_session(r, link, "external-secrets:external-secrets")
    who = _role(PROD, "external-secrets-irsa", session, r.key(link), "AROARZ7KCVJ2EXTEIRSA")
    secret = f"arn:aws:secretsmanager:{REGION}:{PROD}:secret:apps/orders/stripe-api-key-Zx81Pq"
    params = {"secretId": secret, "versionStage": "AWSCURRENT"}
    return _ct(
        r, "ct-external-secrets-get-secret", "secretsmanager:GetSecretValue", "10:00:31", who, params,
        "10.42.1.8", GO_SDK,
    )  # fmt: skip


def _breakglass_read(r: Round, name: str, clock: str) -> Record:
    agent = f"{AWS_CLI} command/secretsmanager.get-secret-value"
    params = {"secretId": DB_SECRET}
    return _ct(r, name, "secretsmanager:GetSecretValue", clock, _breakglass(r), params, "203.0.113.24", agent)


@sample("ct-breakglass-in-window", "cloudtrail")
def _breakglass_in(r: Round) -> Record:
    return _breakglass_read(r, "ct-breakglass-in-window", "10:15:02")


@sample("ct-breakglass-after-window", "cloudtrail")
def _breakglass_after(r: Round) -> Record:
    # The just-in-time grant closed at 17:00; the session was kept and used again in the evening.
    return _breakglass_read(r, "ct-breakglass-after-window", "19:32:47")


@sample("ct-legacy-reporting-export", "cloudtrail")
def _legacy_export(r: Round) -> Record:
    # The replaced nightly job still runs somewhere with the old IAM user's long-lived key.
    user = {
        "type": "IAMUser",
        "principalId": "AIDARZ7KCVJ2LEGACYRPT",
        "arn": f"arn:aws:iam::{PROD}:user/legacy-reporting",
        "accountId": PROD,
        "accessKeyId": r.key("legacy", "AKIA"),
        "userName": "legacy-reporting",
    }
    return _s3(
        r, "ct-legacy-reporting-export", "PutObject", "02:05:44", user,
        "finance-exports/revenue/2026-03-01.csv", ip="198.51.100.77", agent=BOTO,
    )  # fmt: skip


@sample("ct-shadow-role-read", "cloudtrail")
def _shadow_role(r: Round) -> Record:
    # A role nobody registered (no identity lists it) reads payment receipts.
    who = _role(PROD, "data-export-tmp", "jenkins-nightly", r.key("shadow"), "AROARZ7KCVJ2DATAEXP4M")
    return _s3(
        r, "ct-shadow-role-read", "GetObject", "10:21:09", who, "receipts-prod/2026/03/01/rcpt-80011.json",
        ip="10.31.4.12", agent=BOTO,
    )  # fmt: skip


@sample("ct-agent-invoke-model", "cloudtrail")
def _agent_invoke(r: Round) -> Record:
    params = {"modelId": "anthropic.claude-3-5-sonnet-20240620-v1:0"}
    return _ct(
        r, "ct-agent-invoke-model", "bedrock:InvokeModel", "10:09:12", _agent(r), params, "10.42.4.19", BOTO
    )


@sample("ct-agent-unapproved-model", "cloudtrail")
def _agent_other_model(r: Round) -> Record:
    # Converse is authorized as bedrock:InvokeModel; the agent is approved for Anthropic models only.
    params = {"modelId": "meta.llama3-1-70b-instruct-v1:0"}
    return _ct(
        r, "ct-agent-unapproved-model", "bedrock:Converse", "10:09:40", _agent(r), params, "10.42.4.19", BOTO
    )


@sample("ct-agent-secret-denied", "cloudtrail")
def _agent_secret(r: Round) -> Record:
    # The AI agent asks for the payments database password; IAM refuses.
    who = _agent(r)
    refusal = _denied(
        who, "secretsmanager:GetSecretValue", "resource: payments/db",
        "no identity-based policy allows the secretsmanager:GetSecretValue action",
    )  # fmt: skip
    return _ct(
        r, "ct-agent-secret-denied", "secretsmanager:GetSecretValue", "10:10:03", who,
        {"secretId": "payments/db"}, "10.42.4.19", BOTO, **refusal,
    )  # fmt: skip


@sample("ct-deployer-ecr-login", "cloudtrail")
def _deployer_login(r: Round) -> Record:
    return _ct(
        r, "ct-deployer-ecr-login", "ecr:GetAuthorizationToken", "09:58:02", _deployer(r), {}, "10.20.7.21",
        NODE_SDK, recipientAccountId=TOOLS,
    )  # fmt: skip


@sample("ct-deployer-push-foreign-ip", "cloudtrail")
def _deployer_push(r: Round) -> Record:
    # The pipeline's own role pushes an image, but from outside the self-hosted runner ranges.
    repo = f"arn:aws:ecr:{REGION}:{TOOLS}:repository/payments-api"
    params = {
        "repositoryName": "payments-api",
        "imageTag": "v2.14.0",
        "registryId": TOOLS,
        "imageManifestMediaType": "application/vnd.oci.image.manifest.v1+json",
    }
    return _ct(
        r, "ct-deployer-push-foreign-ip", "ecr:PutImage", "09:59:31", _deployer(r), params, "198.51.100.23",
        NODE_SDK, recipientAccountId=TOOLS, readOnly=False, resources=[{"accountId": TOOLS, "ARN": repo}],
    )  # fmt: skip


@sample("ct-deployer-assume-prod", "cloudtrail")
def _deployer_assume(r: Round) -> Record:
    role = f"arn:aws:iam::{PROD}:role/prod-deployer"
    params = {"roleArn": role, "roleSessionName": "GitHubActions", "durationSeconds": 3600}
    response = {
        "credentials": {
            "accessKeyId": r.key("prod-deployer"),
            "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN",
            "expiration": "Mar 2, 2026, 11:00:05 AM",
        },
        "assumedRoleUser": {
            "assumedRoleId": "AROARZ7KCVJ2PRODDPL2K:GitHubActions",
            "arn": f"arn:aws:sts::{PROD}:assumed-role/prod-deployer/GitHubActions",
        },
    }
    return _ct(
        r, "ct-deployer-assume-prod", "sts:AssumeRole", "10:00:05", _deployer(r), params, "10.20.7.21",
        NODE_SDK, responseElements=response,
        resources=[{"accountId": PROD, "type": "AWS::IAM::Role", "ARN": role}],
    )  # fmt: skip


@sample("ct-deployer-attach-admin", "cloudtrail")
def _deployer_attach(r: Round) -> Record:
    # Delivered by an EventBridge rule on IAM API calls: the pipeline grants its own role admin.
    name = "ct-deployer-attach-admin"
    params = {"roleName": "github-actions-deploy", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}
    detail = _ct(
        r, name, "iam:AttachRolePolicy", "10:11:26", _deployer(r), params, "10.20.7.21", NODE_SDK,
        recipientAccountId=TOOLS, readOnly=False,
    )  # fmt: skip
    return {
        "version": "0",
        "id": r.uid(f"{name}:envelope"),
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.iam",
        "account": TOOLS,
        "time": r.at("10:11:26"),
        "region": REGION,
        "resources": [],
        "detail": detail,
    }


@sample("ct-sso-admin", "cloudtrail")
def _sso_admin(r: Round) -> Record:
    # A person signed in through IAM Identity Center: human access is out of scope.
    role = "AWSReservedSSO_AdministratorAccess_5f2b8c1e9a3d7f60"
    path = "aws-reserved/sso.amazonaws.com/"
    who = _role(PROD, role, "alice@example.com", r.key("sso"), "AROARZ7KCVJ2SSOADM3XW", path)
    params = {"secretId": DB_SECRET}
    return _ct(
        r, "ct-sso-admin", "secretsmanager:DescribeSecret", "10:12:50", who, params, "203.0.113.24", AWS_CLI
    )
