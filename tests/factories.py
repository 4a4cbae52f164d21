"""factory_boy factories. A child's org always comes from its parent, so a test never
builds cross-org data by accident."""

import factory
from allauth.account.models import EmailAddress
from django.utils import timezone

from orgs.audit import AuditChainHead
from orgs.models import Membership, Organization, SecurityPolicy, User
from orgs.roles import Role
from projects.models import Caller, Environment, Project

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified(user, create, extracted, **kwargs):
        user.save()
        if create:
            EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Org {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")

    @factory.post_generation
    def chain(org, create, extracted, **kwargs):
        if create:
            AuditChainHead.objects.get_or_create(org=org)
            SecurityPolicy.objects.get_or_create(org=org)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    org = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.MEMBER


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project
        skip_postgeneration_save = True

    org = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Project {n}")
    slug = factory.Sequence(lambda n: f"project-{n}")

    @factory.post_generation
    def environments(project, create, extracted, **kwargs):
        if create:
            for tier in Environment.DEFAULTS:
                Environment.objects.create(org=project.org, project=project, name=tier, tier=tier)


class EnvironmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Environment

    project = factory.SubFactory(ProjectFactory)
    org = factory.SelfAttribute("project.org")
    name = factory.Sequence(lambda n: f"env-{n}")
    tier = Environment.Tier.DEVELOPMENT


class CallerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Caller

    project = factory.SubFactory(ProjectFactory)
    org = factory.SelfAttribute("project.org")
    name = factory.Sequence(lambda n: f"caller-{n}")
    kind = Caller.Kind.PRODUCTION_SERVICE
    owner = factory.SubFactory(MembershipFactory, org=factory.SelfAttribute("..org"))
    created_at = factory.LazyFunction(timezone.now)
