"""The permissions a deployment with the FAB auth manager (production: docker-compose.yml) needs on the plugin's
custom view "Tweet sentiment", given to Airflow's four roles:

    PYTHONPATH=<plugins folder> python -m tweet_sentiment_ui.fab_roles     (compose's airflow-init runs it)

Under FAB the plugin's check (access.py) asks ``is_authorized_custom_view``: GET is ``can_read``, POST
``can_create`` and PUT ``can_edit`` on "Tweet sentiment". FAB creates no permission for a plugin's view, so
without these every plugin route answers 403, to the admin as well. The matrix: a Viewer reads, a User also
labels and sends (with FAB's "can create DAG Runs"), an Op and an Admin also roll back (with "can create
Assets"). Running it again changes nothing.
"""

from __future__ import annotations

from tweet_sentiment_ui.access import RESOURCE_NAME

READ, CHANGE, ROLL_BACK = "can_read", "can_create", "can_edit"  # FAB's actions of GET, POST, PUT
VIEW_ACTIONS: dict[str, tuple[str, ...]] = {
    "Viewer": (READ,),
    "User": (READ, CHANGE),
    "Op": (READ, CHANGE, ROLL_BACK),
    "Admin": (READ, CHANGE, ROLL_BACK),
}


def grant_view_permissions(security_manager, roles: dict[str, tuple[str, ...]] = VIEW_ACTIONS) -> list[str]:
    """Give each role its actions on the plugin's view (the role is created if missing); what was granted."""
    granted = []
    for role_name, actions in roles.items():
        role = security_manager.find_role(role_name) or security_manager.add_role(role_name)
        for action in actions:
            security_manager.add_permission_to_role(role, security_manager.create_permission(action, RESOURCE_NAME))
            granted.append(f"{role_name}: {action} on {RESOURCE_NAME}")
    return granted


def main() -> None:
    """Grant the permissions in the metadata DB Airflow is configured with, printing each."""
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    with get_application_builder() as appbuilder:
        for line in grant_view_permissions(appbuilder.sm):
            print(line)


if __name__ == "__main__":
    main()
