"""The permissions a deployment with the FAB auth manager (production: docker-compose.yml) needs on the plugin's
custom view "Tweet sentiment", given to Airflow's four roles:

    PYTHONPATH=<plugins folder> python -m tweet_sentiment_ui.fab_roles     (compose's airflow-init runs it)

Under FAB the plugin's check (access.py) asks ``is_authorized_custom_view``: GET is ``can_read``, POST
``can_create`` and PUT ``can_edit`` on "Tweet sentiment". FAB creates no permission for a plugin's view, so
without these every plugin route answers 403, to the admin as well. The matrix: a Viewer reads, a User also
labels and sends (with FAB's "can create DAG Runs"), an Op and an Admin also roll back (with "can create
Assets"); Viewer and User may also read the plugins list, from which the UI's navigation shows the pages.
Running it again changes nothing.
"""

from __future__ import annotations

from tweet_sentiment_ui.access import RESOURCE_NAME

READ, CHANGE, ROLL_BACK = "can_read", "can_create", "can_edit"  # FAB's actions of GET, POST, PUT
# The UI's navigation lists a plugin's pages from Airflow's plugins API, which FAB opens to Op and Admin only:
# without it a Viewer or User could open the pages by URL but would not see them in the navigation.
PLUGIN_LIST = ("can_read", "Plugins")
ROLE_PERMISSIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "Viewer": ((READ, RESOURCE_NAME), PLUGIN_LIST),
    "User": ((READ, RESOURCE_NAME), (CHANGE, RESOURCE_NAME), PLUGIN_LIST),
    "Op": ((READ, RESOURCE_NAME), (CHANGE, RESOURCE_NAME), (ROLL_BACK, RESOURCE_NAME)),
    "Admin": ((READ, RESOURCE_NAME), (CHANGE, RESOURCE_NAME), (ROLL_BACK, RESOURCE_NAME)),
}


def grant_view_permissions(security_manager,
                           roles: dict[str, tuple[tuple[str, str], ...]] = ROLE_PERMISSIONS) -> list[str]:
    """Give each role its permissions (the role is created if missing); what was granted."""
    granted = []
    for role_name, permissions in roles.items():
        role = security_manager.find_role(role_name) or security_manager.add_role(role_name)
        for action, resource in permissions:
            security_manager.add_permission_to_role(role, security_manager.create_permission(action, resource))
            granted.append(f"{role_name}: {action} on {resource}")
    return granted


def main() -> None:
    """Grant the permissions in the metadata DB Airflow is configured with, printing each."""
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    with get_application_builder() as appbuilder:
        for line in grant_view_permissions(appbuilder.sm):
            print(line)


if __name__ == "__main__":
    main()
